//! `--request` lines: `METHOD PATH [weight=N] [header=NAME:VALUE]... [body-file=FILE] [body=TEXT]`.

use std::str::FromStr;

use crate::spec::RequestTemplate;

/// Parses a one-line request template, as the binary's `--request` takes it.
///
/// Words are separated by spaces. `METHOD` and `PATH` come first (the path starts with `/`
/// and may carry a query); then, in any order, `weight=N` (default 1), `header=NAME:VALUE`
/// (repeatable) and `body-file=FILE`. `body=TEXT` must come last: it takes the rest of the line
/// verbatim, spaces included.
///
/// ```
/// let t: loadgen::RequestTemplate = "POST /api?x=1 weight=3 body={\"a\": 1}".parse().unwrap();
/// assert_eq!((t.method.as_str(), t.weight), ("POST", 3));
/// assert_eq!(t.body.as_deref(), Some("{\"a\": 1}"));
/// ```
impl FromStr for RequestTemplate {
    type Err = String;

    fn from_str(line: &str) -> Result<Self, String> {
        let (line, body) = match split_body(line) {
            Some((head, body)) => (head, Some(body.to_owned())),
            None => (line, None),
        };
        let mut words = line.split_whitespace();
        let usage = "expected `METHOD PATH [weight=N] [header=NAME:VALUE] [body=TEXT]`";
        let method = words.next().ok_or(usage)?;
        if !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Err(format!("method `{method}` is not a word; {usage}"));
        }
        let path = words.next().ok_or(format!("no path; {usage}"))?;
        if !path.starts_with('/') {
            return Err(format!("path `{path}` must start with `/`; {usage}"));
        }
        let mut template = RequestTemplate {
            method: method.to_ascii_uppercase(),
            path: Some(path.to_owned()),
            body,
            ..RequestTemplate::default()
        };
        for word in words {
            match word.split_once('=') {
                Some(("weight", n)) => {
                    template.weight = n
                        .parse()
                        .map_err(|_| format!("weight `{n}`: expected a whole number"))?;
                }
                Some(("header", header)) => {
                    let (name, value) = header
                        .split_once(':')
                        .ok_or(format!("header `{header}`: expected NAME:VALUE"))?;
                    template
                        .headers
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
                Some(("body-file", file)) => template.body_file = Some(file.into()),
                _ => return Err(format!("unknown word `{word}`; {usage}")),
            }
        }
        if template.body.is_some() && template.body_file.is_some() {
            return Err("set body= or body-file=, not both".to_owned());
        }
        Ok(template)
    }
}

/// Splits off `body=...` (a word starting with `body=`): the text before it, and the body.
fn split_body(line: &str) -> Option<(&str, &str)> {
    let mut at = 0;
    for word in line.split(' ') {
        if word.starts_with("body=") {
            return Some((&line[..at], &line[at + "body=".len()..]));
        }
        at += word.len() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<RequestTemplate, String> {
        line.parse()
    }

    #[test]
    fn method_and_path_with_defaults() {
        let t = parse("get /items?page=2").unwrap();
        assert_eq!(t.method, "GET");
        assert_eq!(t.path.as_deref(), Some("/items?page=2"));
        assert_eq!((t.weight, t.body, t.body_file), (1, None, None));
        assert!(t.headers.is_empty());
    }

    #[test]
    fn options_in_any_order_and_body_takes_the_rest() {
        let t = parse("POST /api header=content-type:application/json weight=9 body={\"a\": 1, \"b\": \"x y\"}")
            .unwrap();
        assert_eq!((t.method.as_str(), t.weight), ("POST", 9));
        assert_eq!(t.headers["content-type"], "application/json");
        assert_eq!(t.body.as_deref(), Some("{\"a\": 1, \"b\": \"x y\"}"));
        let t = parse("PUT /f body-file=req.json weight=2 header=x-a: 1").unwrap_err();
        assert!(t.contains("unknown word `1`"), "{t}");
        let t = parse("PUT /f  body-file=req.json   weight=2").unwrap();
        assert_eq!(
            t.body_file.as_deref(),
            Some(std::path::Path::new("req.json"))
        );
        assert_eq!(t.weight, 2);
        assert_eq!(parse("POST /e body=").unwrap().body.as_deref(), Some(""));
        // `body=` inside another word is not a body.
        assert_eq!(
            parse("GET /q?body=1").unwrap().path.as_deref(),
            Some("/q?body=1")
        );
    }

    #[test]
    fn mistakes_are_explained() {
        for (line, needle) in [
            ("", "expected `METHOD PATH"),
            ("GET", "no path"),
            ("GET items", "must start with `/`"),
            ("G/T /", "not a word"),
            ("GET / weight=x", "weight `x`"),
            ("GET / weight=-1", "weight `-1`"),
            ("GET / header=nocolon", "NAME:VALUE"),
            ("GET / colour=red", "unknown word `colour=red`"),
            ("POST / body-file=a body=b", "not both"),
        ] {
            let error = parse(line).unwrap_err();
            assert!(error.contains(needle), "{line:?}: {error}");
        }
    }
}
