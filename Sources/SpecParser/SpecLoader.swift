import Foundation

/// The front end: finds spec files, reads them through libyaml, decodes the typed model and
/// validates it, collecting every diagnostic.
///
/// ```swift
/// let result = SpecLoader().load(paths: ["specs"])
/// for d in result.diagnostics { print(d) }
/// ```
public struct SpecLoader: Sendable {
    /// What a load produced: the model (when there were no errors) and all diagnostics.
    public struct Result: Sendable {
        /// The validated model, or `nil` when any error was found.
        public var specs: SpecSet?
        /// Every diagnostic, sorted by location.
        public var diagnostics: [Diagnostic]
        /// Whether any diagnostic is an error.
        public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    }

    /// Reader limits.
    public var limits: YAMLReader.Limits

    /// Creates a loader.
    public init(limits: YAMLReader.Limits = .init()) { self.limits = limits }

    /// Expands directories to the `.yaml`/`.yml` files under them, sorted; files are kept as given.
    public static func specFiles(in paths: [String], diagnostics: inout DiagnosticCollector) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                diagnostics.error("no such file or directory: \(path)", at: nil)
                continue
            }
            if isDirectory.boolValue {
                var found: [String] = []
                // Enumerate through a symlink to a directory (Sources/GeneratedMMU/specs is one) but
                // report paths as the user wrote them.
                let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
                if let e = fm.enumerator(atPath: real) {
                    while let rel = e.nextObject() as? String {
                        if rel.hasSuffix(".yaml") || rel.hasSuffix(".yml") {
                            found.append(path.hasSuffix("/") ? path + rel : path + "/" + rel)
                        }
                    }
                }
                if found.isEmpty { diagnostics.error("no spec files (*.yaml) in \(path)", at: nil) }
                out += found.sorted()
            } else {
                out.append(path)
            }
        }
        return out
    }

    /// Loads specs from files and directories.
    public func load(paths: [String]) -> Result {
        var diagnostics = DiagnosticCollector()
        let files = Self.specFiles(in: paths, diagnostics: &diagnostics)
        var sources: [(String, [UInt8])] = []
        var sizes: [String: Int] = [:]
        for file in files {
            guard let handle = FileHandle(forReadingAtPath: file) else {
                diagnostics.error("cannot read \(file)", at: SourceLocation(file: file, line: 1, column: 1))
                continue
            }
            // Read at most one byte past the limit: a huge file costs no memory.
            let data = (try? handle.read(upToCount: limits.maxFileBytes + 1)) ?? Data()
            try? handle.close()
            let bytes = [UInt8](data)
            if bytes.count > limits.maxFileBytes,
                let size = (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int
            {
                sizes[file] = size
            }
            sources.append((file, bytes))
        }
        var result = load(sources: sources, sizes: sizes)
        result.diagnostics = (diagnostics.diagnostics + result.diagnostics)
        if diagnostics.hasErrors { result.specs = nil }
        return result
    }

    /// Loads specs from in-memory sources (file name, bytes).
    public func load(sources: [(String, [UInt8])]) -> Result { load(sources: sources, sizes: [:]) }

    private func load(sources: [(String, [UInt8])], sizes: [String: Int]) -> Result {
        var diagnostics = DiagnosticCollector()
        let reader = YAMLReader(limits: limits)
        var decoder = SpecDecoder()
        for (file, bytes) in sources.sorted(by: { $0.0 < $1.0 }) {
            guard let root = reader.read(bytes: bytes, file: file, fileSize: sizes[file], diagnostics: &diagnostics)
            else {
                decoder.unreadableFiles.append(file)
                continue
            }
            decoder.decode(file: file, root: root, diagnostics: &diagnostics)
        }
        let specs = decoder.finish(diagnostics: &diagnostics)
        var sorted = DiagnosticCollector()
        var seen: Set<Diagnostic> = []
        for d in diagnostics.sorted where seen.insert(d).inserted { sorted.report(d) }
        return Result(specs: diagnostics.hasErrors ? nil : specs, diagnostics: sorted.diagnostics)
    }
}
