/// A YAML node with the position it was read from.
///
/// The spec reader builds this tree from libyaml's events. Scalars stay raw text: the spec layer
/// decides what is an integer, a bit range or a name, so YAML 1.1 surprises (`no` → false,
/// `47:39` → sexagesimal) never happen.
public struct YAMLNode: Sendable {
    /// One key/value pair of a mapping, both with their own positions.
    public struct Pair: Sendable {
        /// The key; always a scalar in spec files.
        public var key: String
        /// Where the key is.
        public var keyLocation: SourceLocation
        /// The value.
        public var value: YAMLNode
    }

    /// The node's shape.
    public enum Kind: Sendable {
        /// A scalar's text, and whether it was quoted (quoted scalars are always strings).
        case scalar(String, quoted: Bool)
        /// A mapping, in document order.
        case mapping([Pair])
        /// A sequence, in document order.
        case sequence([YAMLNode])
    }

    /// The node's shape and content.
    public var kind: Kind
    /// Where the node starts.
    public var location: SourceLocation
    /// For a scalar written over several lines, where each character of its text is (one entry
    /// per Unicode scalar, plus one for the end); `nil` for a single-line scalar, whose characters
    /// follow its start, and for a multi-line one whose folding could not be traced.
    public var characterLocations: [SourceLocation]?
    /// Whether a scalar spans several source lines.
    public var isMultiline = false

    /// Creates a node.
    public init(_ kind: Kind, at location: SourceLocation) {
        self.kind = kind
        self.location = location
    }

    /// The scalar's text, or `nil` for a collection.
    public var scalar: String? {
        if case .scalar(let text, _) = kind { return text }
        return nil
    }

    /// The mapping's pairs, or `nil` when not a mapping.
    public var pairs: [Pair]? {
        if case .mapping(let pairs) = kind { return pairs }
        return nil
    }

    /// The sequence's items, or `nil` when not a sequence.
    public var items: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    /// A word for the node's shape, for messages: "a scalar", "a mapping", "a sequence".
    public var shapeName: String {
        switch kind {
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        }
    }

    /// The value for `key` in a mapping.
    public subscript(key: String) -> YAMLNode? {
        pairs?.first { $0.key == key }?.value
    }
}
