"""One module per rule kind. A stage reads the workspace's open records, records matches,
exceptions or ambiguity notes, and closes what it decided."""
