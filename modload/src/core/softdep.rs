//! `softdep` lines (modules.softdep, modprobe.d): a module's soft
//! dependencies, loaded before (`pre:`) or after (`post:`) it.

use crate::core::fnmatch::normalize_name;

/// One module's soft dependencies and the line they came from.
#[derive(Default)]
pub(crate) struct Softdep {
    pub(crate) line: String,
    pub(crate) pre: Vec<String>,
    pub(crate) post: Vec<String>,
}

/// Every `softdep` line of `text`: (module, its soft dependencies, the line).
/// Words before the first `pre:`/`post:` are ignored, as kmod does.
pub(crate) fn parse_softdeps(text: &str) -> Vec<(String, Softdep, &str)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if w.next() != Some("softdep") {
            continue;
        }
        let Some(module) = w.next() else { continue };
        let mut sd = Softdep {
            line: line.to_string(),
            ..Softdep::default()
        };
        let mut mode = 0;
        for word in w {
            match word {
                "pre:" => mode = 1,
                "post:" => mode = 2,
                _ if mode == 1 => sd.pre.push(word.to_string()),
                _ if mode == 2 => sd.post.push(word.to_string()),
                _ => {}
            }
        }
        out.push((normalize_name(module), sd, line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softdep_lines_give_pre_and_post_with_their_line() {
        let text = "# c\nsoftdep e1000-x a pre: b c post: d\nsoftdep\nalias x y\nsoftdep m post: p pre: q\n";
        let got = parse_softdeps(text);
        assert_eq!(got.len(), 2);
        let (name, sd, line) = &got[0];
        assert_eq!(name, "e1000_x");
        assert_eq!(
            (sd.pre.as_slice(), sd.post.as_slice()),
            (
                &["b".to_string(), "c".to_string()][..],
                &["d".to_string()][..]
            )
        );
        assert_eq!(*line, "softdep e1000-x a pre: b c post: d");
        assert_eq!(sd.line, *line);
        assert_eq!(
            (got[1].1.pre.as_slice(), got[1].1.post.as_slice()),
            (&["q".to_string()][..], &["p".to_string()][..])
        );
    }
}
