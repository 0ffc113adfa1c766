//! The console's width: a line of a page cut to it ([`fit`]), output
//! wrapped at it ([`wrap`]).

/// Console width: no line of output is longer.
pub const WIDTH: usize = 80;

/// `line` cut to [`WIDTH`] characters (the last one a `>` when cut).
pub fn fit(line: &str) -> String {
    if line.chars().count() <= WIDTH {
        return line.to_string();
    }
    let mut s: String = line.chars().take(WIDTH - 1).collect();
    s.push('>');
    s
}

/// `text` with every line cut into pieces of at most 80 characters.
pub fn wrap(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut n = 0;
        for c in line.chars() {
            if n == WIDTH {
                out.push('\n');
                n = 0;
            }
            out.push(c);
            n += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn fit_cuts_long_lines() {
        assert_eq!(super::fit("short"), "short");
        let f = super::fit(&"é".repeat(100));
        assert_eq!(f.chars().count(), 80);
        assert!(f.ends_with('>'));
    }

    #[test]
    fn wrap_at_80() {
        let w = super::wrap(&format!("{}\nshort\n", "x".repeat(170)));
        let lines: Vec<&str> = w.lines().collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [80, 80, 10, 5]
        );
        assert!(w.ends_with('\n'));
    }
}
