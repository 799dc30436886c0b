import Foundation
import OCI

/// The catalog report as one static HTML page: a card per image and a chart of size and CVEs
/// against each baseline, with styles and the chart inline (SVG), so it works offline.
public enum CatalogPage {
    public static func html(_ report: CatalogReport) -> String {
        var body = """
        <header><h1>Harden catalog</h1>
        <p>Generated \(escape(report.generated)) by \(escape(report.builder)). \
        \(report.signedBy.map { "Signed with key <code>\(escape(String($0.prefix(16))))</code>." } ?? "Not signed.") \
        \(escape(report.vulnerabilityData))</p></header>
        <section id="chart"><h2>Against the conventional baselines</h2>
        \(chart(report))
        </section>
        <section id="images">
        """
        for image in report.images { body += card(image) }
        body += "</section>"
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Harden catalog</title><style>\(style)</style></head>
        <body>\(body)</body></html>

        """
    }

    static let style = """
    body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#1a202c;background:#f7fafc}
    h1{margin:0 0 4px}header p{color:#4a5568;margin:0 0 16px}
    section#chart{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:16px;margin-bottom:20px}
    section#images{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:16px}
    .card{background:#fff;border:1px solid #cbd5e0;border-top:6px solid #2b6cb0;border-radius:8px;padding:14px}
    .card.failed{border-top-color:#c53030}.card h3{margin:0 0 2px;font-size:1.25em}.card .desc{color:#4a5568;margin:0 0 8px}
    .grade{float:right;font-weight:700;font-size:1.4em;width:1.6em;text-align:center;border-radius:6px;color:#fff;background:#2f855a}
    .grade.B{background:#b7791f}.grade.C,.grade.D,.grade.F{background:#c53030}
    table{border-collapse:collapse;width:100%;font-size:.9em}td{padding:2px 4px;border-bottom:1px solid #edf2f7}td.n{text-align:right}
    .badge{display:inline-block;font-size:.75em;padding:1px 6px;margin:2px 2px 0 0;border-radius:10px;background:#e2e8f0}
    .badge.pass{background:#c6f6d5}.badge.warn{background:#fefcbf}.badge.fail{background:#fed7d7}
    code{font-size:.85em}.problems{color:#c53030;font-size:.85em}.links a{margin-right:8px}.reduction{font-weight:600;color:#2f855a}
    .legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
    """

    /// Horizontal bars per image: compressed size and CVEs of the minimal image next to its baseline.
    static func chart(_ report: CatalogReport) -> String {
        let rows = report.images.compactMap { image -> (String, Double, Double, Double?, Double?)? in
            guard let platform = image.comparedPlatform else { return nil }
            return (image.name, Double(platform.figures.compressedBytes) / 1_048_576, image.baseline.map { Double($0.figures.compressedBytes) / 1_048_576 } ?? 0,
                    platform.figures.cves.map(Double.init), image.baseline?.figures.cves.map(Double.init))
        }
        guard !rows.isEmpty else { return "<p>No image was built.</p>" }
        let maxSize = max(1, rows.map { max($0.1, $0.2) }.max() ?? 1)
        let maxCVEs = max(1, rows.compactMap { max($0.3 ?? 0, $0.4 ?? 0) }.max() ?? 1)
        let rowHeight = 34, top = 28, label = 90, width = 480
        var svg = "<svg role=\"img\" aria-label=\"size and CVEs against baselines\" viewBox=\"0 0 \(label * 2 + width * 2 + 40) \(top + rowHeight * rows.count + 10)\" width=\"100%\">"
        svg += "<text x=\"\(label)\" y=\"16\" font-size=\"13\" font-weight=\"600\">compressed size (MiB)</text>"
        svg += "<text x=\(quote(label * 2 + width + 20)) y=\"16\" font-size=\"13\" font-weight=\"600\">CVEs after VEX</text>"
        for (position, row) in rows.enumerated() {
            let y = top + position * rowHeight
            svg += "<text class=\"chart-label\" x=\"0\" y=\"\(y + 18)\" font-size=\"13\">\(escape(row.0))</text>"
            svg += bars(x: label, y: y, width: width, ours: row.1, theirs: row.2, maximum: maxSize, format: "%.1f")
            if let ours = row.3 {
                svg += "<text x=\(quote(label + width + 20)) y=\"\(y + 18)\" font-size=\"13\">\(escape(row.0))</text>"
                svg += bars(x: label * 2 + width + 20, y: y, width: width, ours: ours, theirs: row.4 ?? 0, maximum: maxCVEs, format: "%.0f")
            }
        }
        svg += "</svg>"
        let legend = "<p class=\"legend\"><span style=\"background:#2b6cb0\"></span>Harden minimal image<span style=\"background:#a0aec0\"></span>conventional baseline (bookworm-slim set + the same runtime)</p>"
        return svg + legend
    }

    private static func bars(x: Int, y: Int, width: Int, ours: Double, theirs: Double, maximum: Double, format: String) -> String {
        let scale = Double(width - 60) / maximum
        let theirsWidth = max(1, Int(theirs * scale)), oursWidth = max(1, Int(ours * scale))
        return "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(theirsWidth)\" height=\"12\" fill=\"#a0aec0\"/>"
            + "<text x=\"\(x + theirsWidth + 4)\" y=\"\(y + 10)\" font-size=\"11\">\(String(format: format, theirs))</text>"
            + "<rect class=\"bar-ours\" x=\"\(x)\" y=\"\(y + 14)\" width=\"\(oursWidth)\" height=\"12\" fill=\"#2b6cb0\"/>"
            + "<text x=\"\(x + oursWidth + 4)\" y=\"\(y + 24)\" font-size=\"11\">\(String(format: format, ours))</text>"
    }

    static func card(_ image: CatalogReport.Image) -> String {
        let platform = image.comparedPlatform
        var html = "<article class=\"card\(image.status == "failed" ? " failed" : "")\" id=\"image-\(escape(image.name))\">"
        if let platform { html += "<span class=\"grade \(platform.grade)\" title=\"audit grade\">\(platform.grade)</span>" }
        html += "<h3>\(escape(image.name))</h3><p class=\"desc\">\(escape(image.description ?? "")) <span class=\"badge\">\(escape(image.status))</span></p>"
        if let platform {
            let f = platform.figures
            html += "<table>"
            for variant in image.variants {
                html += "<tr><td>\(escape(variant.tag))</td><td><code title=\"\(escape(variant.digest))\">\(escape(String(variant.digest.prefix(19))))</code></td></tr>"
            }
            html += "<tr><td>size (\(escape(platform.architecture)))</td><td class=\"n\">\(formatBytes(f.compressedBytes)) compressed, \(formatBytes(f.bytes)) files</td></tr>"
            html += "<tr><td>packages</td><td class=\"n\">\(f.packages)\(image.baseline.map { " (baseline \($0.figures.packages))" } ?? "")</td></tr>"
            html += "<tr><td>executables</td><td class=\"n\">\(f.executables)\(image.baseline.map { " (baseline \($0.figures.executables))" } ?? "")</td></tr>"
            html += "<tr><td>CVEs after VEX</td><td class=\"n\">\(f.cves.map(String.init) ?? "not scanned")\(image.baseline?.figures.cves.map { " (baseline \($0))" } ?? "")</td></tr>"
            html += "</table>"
            if let reduction = image.reduction {
                let parts = ["packages", "executables", "compressed", "cves"].compactMap { axis in reduction[axis].map { String(format: "%.0f%% fewer %@", $0, axis == "compressed" ? "bytes" : axis) } }
                html += "<p class=\"reduction\">\(escape(parts.joined(separator: ", "))) than the baseline</p>"
            }
            html += "<p>" + platform.evidence.sorted { $0.key < $1.key }.map { "<span class=\"badge \($0.value)\">\(escape($0.key)) \($0.value)</span>" }.joined()
            html += platform.hardened ? "<span class=\"badge pass\">hardening checks pass</span>" : "<span class=\"badge fail\">hardening checks fail</span>"
            html += "</p>"
            if !platform.documents.isEmpty {
                html += "<p class=\"links\">" + platform.documents.sorted { $0.key < $1.key }.map { "<a href=\"\(escape($0.value))\">\(escape($0.key))</a>" }.joined() + "</p>"
            }
        }
        if let previous = image.previous {
            html += "<p>Since <code>\(escape(String(previous.digest.prefix(19))))</code>: \(previous.packagesChanged.count) package(s) changed"
                + (previous.cvesFixed.map { ", \($0.count) CVE(s) fixed" } ?? "") + "</p>"
        }
        if !image.problems.isEmpty {
            html += "<ul class=\"problems\">" + image.problems.map { "<li>\(escape($0))</li>" }.joined() + "</ul>"
        }
        return html + "</article>"
    }

    private static func quote(_ value: Int) -> String { "\"\(value)\"" }

    /// Text made safe for HTML content and attribute values.
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
