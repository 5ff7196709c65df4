//! Formats an error with its chain of causes on one line. A leaf: imports nothing from the crate,
//! so every layer (the API transport included) can use it.

/// `error: cause: cause…`, skipping a cause whose text the message already contains.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors already repeat their cause in their own message.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
