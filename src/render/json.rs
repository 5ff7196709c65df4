//! The JSON renderings: the plan document and the report document, pretty-printed
//! with a trailing newline. The types themselves define the shape; this only writes them.

use std::io::{self, Write};

use crate::plan::Plan;
use crate::report::Report;

/// Writes the plan document.
pub fn plan(w: &mut impl Write, plan: &Plan) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, plan)?;
    writeln!(w)
}

/// Writes the report document.
pub fn report(w: &mut impl Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, report)?;
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::samples::{sample_plan, sample_report};

    #[test]
    fn plan_json_is_the_documented_shape_and_round_trips() {
        let p = sample_plan();
        let mut out = Vec::new();
        plan(&mut out, &p).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n"));
        let back: Plan = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn report_json_is_the_documented_shape_and_round_trips() {
        let r = sample_report();
        let mut out = Vec::new();
        report(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        insta::assert_snapshot!(text);
    }
}
