//! Comparing typed answers (short answers and blanks) with what the author accepts.

use regex::{Regex, RegexBuilder};

/// Bounds the compiled program, so a pattern like `(a{1000}){1000}` is refused when authored
/// rather than costing memory at every grading.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Trims, collapses runs of whitespace to one space and, unless `case_sensitive`, lowercases.
pub(super) fn normalise(text: &str, case_sensitive: bool) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if case_sensitive {
        collapsed
    } else {
        collapsed.to_lowercase()
    }
}

/// Whether `text` equals one of `accepted` after normalising both.
pub(super) fn matches_accepted(text: &str, accepted: &[String], case_sensitive: bool) -> bool {
    let text = normalise(text, case_sensitive);
    accepted
        .iter()
        .any(|a| normalise(a, case_sensitive) == text)
}

/// Compiles an author's pattern to match a whole (whitespace-normalised) answer.
pub(super) fn compile_regex(pattern: &str, case_sensitive: bool) -> Result<Regex, regex::Error> {
    let build = |p: &str| {
        RegexBuilder::new(p)
            .case_insensitive(!case_sensitive)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
    };
    // Alone first: `a)|(b` is unbalanced by itself but would escape the anchoring group.
    build(pattern)?;
    build(&format!("^(?:{pattern})$"))
}

/// Whether the whole answer matches the pattern; an uncompilable stored pattern matches nothing.
pub(super) fn matches_regex(text: &str, pattern: &str, case_sensitive: bool) -> bool {
    compile_regex(pattern, case_sensitive).is_ok_and(|re| re.is_match(&normalise(text, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_trims_collapses_and_lowercases() {
        assert_eq!(normalise("  New \t\n York  ", false), "new york");
        assert_eq!(normalise("  New   York ", true), "New York");
        assert_eq!(normalise("ÉCOLE", false), "école");
    }

    #[test]
    fn regex_matches_the_whole_answer_only() {
        assert!(matches_regex("Colour", "colou?r", false));
        assert!(matches_regex("  color ", "colou?r", false));
        assert!(!matches_regex("colourful", "colou?r", false));
        assert!(!matches_regex("my color", "colou?r", false));
        assert!(!matches_regex("Color", "colou?r", true));
        // The alternation stays inside the anchors.
        assert!(!matches_regex("ax", "a|b", false));
    }

    #[test]
    fn regex_cannot_escape_the_anchoring_group() {
        assert!(compile_regex("a)|(b", false).is_err());
        assert!(compile_regex("a)|(?:b", false).is_err());
    }

    #[test]
    fn huge_or_broken_patterns_do_not_compile() {
        assert!(compile_regex("(a{1000}){1000}", false).is_err());
        assert!(compile_regex("\\w{5000}", false).is_err());
        assert!(compile_regex("(unclosed", false).is_err());
        assert!(!matches_regex("anything", "(unclosed", false));
    }
}
