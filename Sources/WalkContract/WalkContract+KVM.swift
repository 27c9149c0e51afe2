extension WalkCase.Invalid: CustomStringConvertible {
    /// The message: which field is wrong and why.
    public var description: String { message }
}
