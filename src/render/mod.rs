//! Rendering plans and reports: text diff, JSON and markdown, always into a writer.
