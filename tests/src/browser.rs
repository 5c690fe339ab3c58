//! A real browser for tests of pages we write: Debian's headless Chromium, started once per
//! page with a profile of its own and every background connection off (this machine's network
//! is closed, and a report must draw without one anyway).

use std::path::Path;
use std::process::Command;

/// The page at `path` as Chromium's DOM after its scripts ran (`--dump-dom`).
///
/// Panics, saying how to install it, when Chromium is absent: a test that needs it must fail
/// loudly, never pass by skipping.
pub fn rendered_dom(path: &Path) -> String {
    let binary = std::env::var("ETL_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned());
    let profile = tempfile::tempdir().expect("a temporary profile directory");
    let url = format!(
        "file://{}",
        path.canonicalize().expect("the page exists").display()
    );
    let output = Command::new(&binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {binary} ({e}): run the tests with `make test`, which installs \
                 Chromium (scripts/ensure-tools.sh chromium), or set ETL_CHROMIUM"
            )
        });
    assert!(
        output.status.success(),
        "{binary} failed on {url} ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("Chromium prints the DOM as UTF-8")
}

/// One element of a dumped DOM: its tag and attributes, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub tag: String,
    pub attributes: Vec<(String, String)>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The start tags of serialised HTML, with their attributes unescaped: enough to read what a
/// script drew (Chromium serialises every attribute as `name="value"`).
pub fn elements(html: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let tag_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        if tag_len == 0 {
            continue;
        }
        let tag = rest[..tag_len].to_ascii_lowercase();
        rest = &rest[tag_len..];
        let mut attributes = Vec::new();
        loop {
            rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('>') || rest.starts_with("/>") {
                break;
            }
            let name_len = rest
                .find(|c: char| c == '=' || c == '>' || c.is_whitespace())
                .unwrap_or(rest.len());
            let name = rest[..name_len].to_owned();
            rest = &rest[name_len..];
            let value = if let Some(after) = rest.strip_prefix("=\"") {
                let end = after.find('"').unwrap_or(after.len());
                let value = unescape(&after[..end]);
                rest = &after[(end + 1).min(after.len())..];
                value
            } else {
                String::new()
            };
            attributes.push((name, value));
        }
        out.push(Element { tag, attributes });
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_start_tags_and_unescaped_attributes() {
        let html = r#"<body data-drawn="4"><svg data-chart="rows"><rect class="mark" data-key="a|b" data-value="1.50"></rect><text x="1">a &amp; b</text></svg>"#;
        let found = elements(html);
        assert_eq!(found[0].attr("data-drawn"), Some("4"));
        assert_eq!(found[2].tag, "rect");
        assert_eq!(found[2].attr("data-key"), Some("a|b"));
        assert_eq!(found[2].attr("data-value"), Some("1.50"));
        assert_eq!(found.len(), 4, "end tags are not elements: {found:?}");
    }
}
