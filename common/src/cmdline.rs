//! The kernel command line, split the way the kernel splits it
//! (`lib/cmdline.c: next_arg`): words separated by spaces, double quotes
//! group spaces into a word and are removed, `--` ends the kernel's part.

/// One parsed word: `key=value` or a bare `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub value: Option<String>,
}

/// A parsed kernel command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cmdline {
    params: Vec<Param>,
    /// Words after `--`: the kernel passes them to init as arguments.
    pub init_args: Vec<String>,
}

/// Kernel parameter names treat `-` and `_` alike.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).all(|(x, y)| {
            let n = |c: u8| if c == b'-' { b'_' } else { c };
            n(x) == n(y)
        })
}

impl Cmdline {
    /// Parse the text of `/proc/cmdline`.
    pub fn parse(text: &str) -> Self {
        let mut params = Vec::new();
        let mut init_args = Vec::new();
        let mut after_dashes = false;
        for word in split_words(text) {
            if after_dashes {
                init_args.push(word);
                continue;
            }
            if word == "--" {
                after_dashes = true;
                continue;
            }
            let param = match word.split_once('=') {
                Some((k, v)) => Param {
                    key: k.to_string(),
                    value: Some(v.to_string()),
                },
                None => Param {
                    key: word,
                    value: None,
                },
            };
            params.push(param);
        }
        Cmdline { params, init_args }
    }

    /// All parameters in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The last value given for `key` (the kernel's own rule: last one wins).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|p| same_key(&p.key, key))
            .and_then(|p| p.value.as_deref())
    }

    /// Every value given for `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |p| same_key(&p.key, key))
            .filter_map(|p| p.value.as_deref())
    }

    /// Whether a bare word or `key=...` is present.
    pub fn has(&self, key: &str) -> bool {
        self.params.iter().any(|p| same_key(&p.key, key))
    }
}

/// Split like the kernel: spaces separate, quotes group and are dropped.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut have = false;
    for c in text.chars() {
        match c {
            '"' => {
                in_quote = !in_quote;
                have = true;
            }
            c if c.is_whitespace() && !in_quote => {
                if have {
                    words.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                cur.push(c);
                have = true;
            }
        }
    }
    if have {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_kernel() {
        let c = Cmdline::parse(
            "console=ttyS0 quiet ip=dhcp init.arg=\"a b\" \"x=y z\" e1000.debug=2 -- one two\n",
        );
        assert_eq!(c.get("console"), Some("ttyS0"));
        assert!(c.has("quiet"));
        assert_eq!(c.get("quiet"), None);
        assert_eq!(c.get("init.arg"), Some("a b"));
        assert_eq!(c.get("x"), Some("y z"));
        assert_eq!(c.init_args, vec!["one", "two"]);
    }

    #[test]
    fn last_value_wins_and_dashes_equal_underscores() {
        let c = Cmdline::parse("modprobe.blacklist=a modprobe.blacklist=b foo-bar=1");
        assert_eq!(c.get("modprobe.blacklist"), Some("b"));
        assert_eq!(
            c.get_all("modprobe.blacklist").collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(c.get("foo_bar"), Some("1"));
    }

    #[test]
    fn empty_and_whitespace() {
        assert_eq!(Cmdline::parse("  \n"), Cmdline::default());
        let c = Cmdline::parse("a=");
        assert_eq!(c.get("a"), Some(""));
    }
}
