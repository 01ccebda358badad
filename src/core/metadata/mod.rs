pub enum HeaderType {
    Compact,
    Large,
}
