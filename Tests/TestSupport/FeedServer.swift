import Archive
import Foundation

/// A file server on loopback (Tests/Harness/feed_server.py) that sends `ETag` and
/// `Last-Modified`, answers conditional requests with 304, and breaks on request: for testing
/// feed downloads. Stopped on release.
public final class FeedServer: @unchecked Sendable {
    public struct Logged: Decodable, Sendable {
        public var method: String
        public var path: String
        public var status: Int
        public var if_none_match: String?
        /// Sent to it as a proxy (the request line held an absolute URL).
        public var proxied: Bool?
    }

    /// The files it serves (write into it at will).
    public let directory: TemporaryDirectory
    private let logPath: String
    private let process: HarnessProcess

    public init() throws {
        let python = try requireTool("python3")
        let script = try harnessScript("feed_server.py")
        let work = try TemporaryDirectory()
        directory = try TemporaryDirectory()
        logPath = work.path + "/requests.jsonl"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let served = directory.path
        let log = logPath
        process = try HarnessProcess.start(
            "feed server", executable: python,
            arguments: { port in [script, "--port", String(port), "--directory", served, "--log", log] },
            logPath: work.path + "/server.log", workDirectory: work)
    }

    /// `http://127.0.0.1:PORT/NAME`; `fault` is one of feed_server.py's: `truncated`, `error`,
    /// `stall`, `endless`, `redirect` or `auth`.
    public func url(_ name: String, fault: String? = nil) -> String {
        "http://127.0.0.1:\(process.port)/" + (fault.map { $0 + "/" } ?? "") + name
    }

    /// `127.0.0.1:PORT`, for `http_proxy`.
    public var address: String { "127.0.0.1:\(process.port)" }

    /// Every request so far, in order.
    public func requests() throws -> [Logged] {
        try completeLines(try FileSystem.read(logPath, limit: 1 << 30)).map { try JSONDecoder().decode(Logged.self, from: Data($0)) }
    }
}
