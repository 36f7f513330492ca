//! A small writer for Alloy documents: blocks, attributes and comments with consistent
//! indentation. Values are Alloy expressions the caller builds with [`super::string`],
//! [`list`] and [`reference`]; the writer never quotes anything itself.

/// An Alloy document being written.
#[derive(Debug, Default)]
pub(crate) struct Doc {
    out: String,
    depth: usize,
}

/// Indentation per level: two spaces, as `alloy fmt` writes.
const INDENT: &str = "  ";

// === impl Doc ===

impl Doc {
    /// Opens a block, e.g. `loki.write "default"` or `endpoint`.
    pub(crate) fn open(&mut self, header: &str) -> &mut Self {
        self.line(&format!("{header} {{"));
        self.depth += 1;
        self
    }

    /// Opens a multi-line object as the value of `name` (closed with [`Doc::close`]).
    pub(crate) fn open_object(&mut self, name: &str) -> &mut Self {
        self.line(&format!("{name} = {{"));
        self.depth += 1;
        self
    }

    /// Closes the innermost block or object.
    pub(crate) fn close(&mut self) -> &mut Self {
        self.depth = self.depth.saturating_sub(1);
        self.line("}");
        self
    }

    /// Writes `name = value`.
    pub(crate) fn attr(&mut self, name: &str, value: &str) -> &mut Self {
        self.line(&format!("{name} = {value}"));
        self
    }

    /// Writes `key = value,`, an entry of an open object.
    pub(crate) fn entry(&mut self, key: &str, value: &str) -> &mut Self {
        self.line(&format!("{key} = {value},"));
        self
    }

    /// Writes a `//` comment. `text` must not come from outside: comments are not escaped.
    pub(crate) fn comment(&mut self, text: &str) -> &mut Self {
        self.line(&format!("// {text}"));
        self
    }

    /// Writes an empty line between top-level components.
    pub(crate) fn blank(&mut self) -> &mut Self {
        self.out.push('\n');
        self
    }

    /// The finished document.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn line(&mut self, text: &str) {
        for _ in 0..self.depth {
            self.out.push_str(INDENT);
        }
        self.out.push_str(text);
        self.out.push('\n');
    }
}

/// An Alloy list of already-built expressions: `[a, b]`.
pub(crate) fn list<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let items: Vec<S> = items.into_iter().collect();
    let inner: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", inner.join(", "))
}

/// A reference to another component's export: `loki.write.default.receiver`. Every part is
/// a fixed identifier of ours, never input.
pub(crate) fn reference(parts: &[&str]) -> String {
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_blocks_and_objects() {
        let mut doc = Doc::default();
        doc.open("a \"b\"")
            .attr("x", "1")
            .open_object("labels")
            .entry("\"k\"", "\"v\"")
            .close()
            .close()
            .blank();
        assert_eq!(
            doc.finish(),
            "a \"b\" {\n  x = 1\n  labels = {\n    \"k\" = \"v\",\n  }\n}\n\n"
        );
    }

    #[test]
    fn lists_and_references() {
        assert_eq!(list(["\"a\"", "\"b\""]), "[\"a\", \"b\"]");
        assert_eq!(list(Vec::<String>::new()), "[]");
        assert_eq!(
            reference(&["loki", "write", "default", "receiver"]),
            "loki.write.default.receiver"
        );
    }
}
