/// A problem found in a spec, located at `file:line:column`, with optional notes for context.
///
/// Diagnostics are data: stages collect them in a ``DiagnosticCollector`` and report all of them,
/// not only the first. `description` renders the compiler form
/// `specs/paging/x.yaml:12:7: error: unknown key 'idnex' (did you mean 'index'?)`.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    /// How serious a diagnostic is.
    public enum Severity: String, Sendable, Hashable, Codable {
        /// The spec is wrong; nothing may be generated from it.
        case error
        /// Suspicious but usable.
        case warning
        /// Context attached to another diagnostic.
        case note
    }

    /// A secondary message attached to a diagnostic (for example, where a duplicate was first defined).
    public struct Note: Sendable, Hashable {
        /// The note's text.
        public var message: String
        /// Where the note points, if anywhere.
        public var location: SourceLocation?

        /// Creates a note.
        public init(_ message: String, at location: SourceLocation? = nil) {
            self.message = message
            self.location = location
        }
    }

    /// Error, warning or note.
    public var severity: Severity
    /// One-line message, lower case, no trailing period.
    public var message: String
    /// Where the problem is; `nil` only for problems that have no place (an empty directory).
    public var location: SourceLocation?
    /// Context for the message.
    public var notes: [Note]

    /// Creates a diagnostic.
    public init(_ severity: Severity, _ message: String, at location: SourceLocation?, notes: [Note] = []) {
        self.severity = severity
        self.message = message
        self.location = location
        self.notes = notes
    }

    /// An error at `location`.
    public static func error(_ message: String, at location: SourceLocation?, notes: [Note] = []) -> Diagnostic {
        Diagnostic(.error, message, at: location, notes: notes)
    }

    /// The first line: `file:line:column: severity: message`.
    public var headline: String {
        if let location { return "\(location): \(severity.rawValue): \(message)" }
        return "\(severity.rawValue): \(message)"
    }

    /// The headline and one line per note.
    public var description: String {
        var lines = [headline]
        for note in notes {
            if let location = note.location {
                lines.append("\(location): note: \(note.message)")
            } else {
                lines.append("note: \(note.message)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Collects diagnostics from every stage so that a run reports all problems at once.
public struct DiagnosticCollector: Sendable {
    /// Everything reported so far, in report order.
    public private(set) var diagnostics: [Diagnostic] = []

    /// Creates an empty collector.
    public init() {}

    /// Records a diagnostic.
    public mutating func report(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }

    /// Records an error.
    public mutating func error(_ message: String, at location: SourceLocation?, notes: [Diagnostic.Note] = []) {
        diagnostics.append(.error(message, at: location, notes: notes))
    }

    /// Records a warning.
    public mutating func warning(_ message: String, at location: SourceLocation?, notes: [Diagnostic.Note] = []) {
        diagnostics.append(Diagnostic(.warning, message, at: location, notes: notes))
    }

    /// Appends all of another collector's diagnostics.
    public mutating func merge(_ other: DiagnosticCollector) { diagnostics.append(contentsOf: other.diagnostics) }

    /// True when any error was reported.
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// The errors only.
    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }

    /// Diagnostics sorted by location (file, line, column), unlocated ones first; stable otherwise.
    public var sorted: [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case (nil, nil): return a.offset < b.offset
            case (nil, _): return true
            case (_, nil): return false
            case let (la?, lb?): return la == lb ? a.offset < b.offset : la < lb
            }
        }.map(\.element)
    }
}

/// Thrown by a stage that cannot produce its output; carries every diagnostic collected.
public struct SpecErrors: Error, Sendable, CustomStringConvertible {
    /// The diagnostics, errors among them.
    public var diagnostics: [Diagnostic]
    /// Creates the error.
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    /// All diagnostics, one per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
