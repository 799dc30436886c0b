import Foundation

/// Runs `body` for 0..<count on up to `threads` threads at once (each takes the next index when
/// it is free) and returns the results in index order. For CPU-bound work over independent items.
public func concurrentMap<T>(_ count: Int, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                             _ body: (Int) -> T) -> [T] {
    guard count > 1, threads > 1 else { return (0..<count).map(body) }
    let results = UnsafeMutableBufferPointer<T>.allocate(capacity: count)
    defer { results.deallocate() }
    let next = ManagedCounter()
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        nonisolated(unsafe) let results = results
        DispatchQueue.concurrentPerform(iterations: min(threads, count)) { _ in
            while let i = next.take(below: count) { (results.baseAddress! + i).initialize(to: body(i)) }
        }
    }
    let values = Array(results)
    _ = results.baseAddress!.deinitialize(count: count)
    return values
}

/// A counter handed out under a lock.
private final class ManagedCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }
}
