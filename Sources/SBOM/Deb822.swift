import Debian

/// Tolerant deb822 reading: a broken paragraph is reported and skipped, the rest is kept.
enum Deb822 {
    /// The paragraphs of `bytes`; each paragraph that does not parse adds a warning naming
    /// `file` and its line, and is left out.
    static func paragraphs(_ bytes: [UInt8], file: String, warnings: inout [String]) -> [ControlParagraph] {
        numberedParagraphs(bytes, file: file, warnings: &warnings).map(\.paragraph)
    }

    /// Like `paragraphs`, with the 1-based line in `file` where each paragraph starts.
    static func numberedParagraphs(_ bytes: [UInt8], file: String, warnings: inout [String]) -> [(paragraph: ControlParagraph, line: Int)] {
        if let all = try? ControlFile.parse(bytes) { return all.map { ($0, $0.lineNumber) } }
        // Parse paragraph by paragraph to find (and skip) the broken ones.
        var result: [(paragraph: ControlParagraph, line: Int)] = []
        var chunk: [UInt8] = []
        var chunkLine = 1
        var line = 1
        func flush() {
            defer { chunk = [] }
            guard chunk.contains(where: { $0 != 10 && $0 != 13 && $0 != 32 && $0 != 9 }) else { return }
            do {
                result.append(contentsOf: try ControlFile.parse(chunk).map { ($0, chunkLine + $0.lineNumber - 1) })
            } catch let DebianError.malformedControl(relative, reason) {
                warnings.append("\(file): paragraph at line \(chunkLine) is malformed (line \(chunkLine + relative - 1): \(reason)): skipped")
            } catch {
                warnings.append("\(file): paragraph at line \(chunkLine) is malformed (\(error)): skipped")
            }
        }
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 10) ?? bytes.count
            let content = bytes[start..<end]
            let blank = content.allSatisfy { $0 == 32 || $0 == 9 || $0 == 13 }
            if blank {
                flush()
                chunkLine = line + 1
            } else {
                if chunk.isEmpty { chunkLine = line }
                chunk.append(contentsOf: content)
                chunk.append(10)
            }
            line += 1
            start = end + 1
        }
        flush()
        return result
    }
}
