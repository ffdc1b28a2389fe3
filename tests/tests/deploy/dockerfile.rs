//! The Dockerfile: a builder stage and a slim non-root runtime whose entrypoint, ports,
//! health check and copied files match the binaries, the config and the repository.

use crate::support::{self, admin_facts, config_ports, repo, status_of};
use std::collections::BTreeSet;

/// One instruction, continuation lines joined.
#[derive(Debug, Clone)]
pub(crate) struct Instruction {
    /// Upper-case keyword (`FROM`, `RUN`, …).
    pub(crate) keyword: String,
    /// Everything after the keyword.
    pub(crate) args: String,
    /// The line it starts on, for messages.
    pub(crate) line: usize,
}

impl Instruction {
    /// Leading `--name=value` flags and the rest (e.g. `COPY --from=builder a b`).
    pub(crate) fn flags_and_rest(&self) -> (Vec<(String, String)>, String) {
        let mut flags = Vec::new();
        let mut rest = self.args.trim();
        while let Some(after) = rest.strip_prefix("--") {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            let (flag, tail) = after.split_at(end);
            let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
            flags.push((name.to_owned(), value.to_owned()));
            rest = tail.trim_start();
        }
        (flags, rest.to_owned())
    }

    /// The value of a leading flag (`--from`, `--chown`).
    pub(crate) fn flag(&self, name: &str) -> Option<String> {
        self.flags_and_rest()
            .0
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The exec form `["a", "b"]` after any flags, if the instruction uses it.
    pub(crate) fn exec_form(&self) -> Option<Vec<String>> {
        let (_, rest) = self.flags_and_rest();
        let rest = rest.strip_prefix("CMD").map_or(rest.as_str(), str::trim);
        rest.starts_with('[')
            .then(|| serde_json::from_str(rest))
            .and_then(Result::ok)
    }
}

/// A build stage: its base image, its name and its instructions after `FROM`.
#[derive(Debug)]
pub(crate) struct Stage {
    /// The image it starts from.
    pub(crate) from: String,
    /// `AS name`, if given.
    pub(crate) name: Option<String>,
    /// The instructions after `FROM`.
    pub(crate) instructions: Vec<Instruction>,
}

impl Stage {
    /// Its instructions with this keyword.
    pub(crate) fn all(&self, keyword: &str) -> Vec<&Instruction> {
        self.instructions
            .iter()
            .filter(|i| i.keyword == keyword)
            .collect()
    }

    /// The last instruction with this keyword (the one that takes effect).
    pub(crate) fn last(&self, keyword: &str) -> Option<&Instruction> {
        self.all(keyword).pop()
    }
}

/// A parsed Dockerfile: the `ARG`s before the first `FROM`, then the stages.
#[derive(Debug)]
pub(crate) struct Dockerfile {
    /// Global `ARG name=default` pairs.
    pub(crate) args: Vec<(String, String)>,
    /// Build stages in order; the last is the image.
    pub(crate) stages: Vec<Stage>,
}

const KEYWORDS: [&str; 18] = [
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
    "MAINTAINER",
];

/// Parses Dockerfile text (`\` continuations, `#` comments), refusing unknown instructions
/// and anything before the first `FROM` other than `ARG`.
pub(crate) fn parse(text: &str) -> Result<Dockerfile, String> {
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_none()) {
            continue;
        }
        let (start, mut acc) = pending.take().unwrap_or((n + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(part) => {
                acc.push_str(part.trim_end());
                acc.push(' ');
                pending = Some((start, acc));
            }
            None => {
                acc.push_str(line);
                logical.push((start, acc));
            }
        }
    }
    if let Some((start, _)) = pending {
        return Err(format!(
            "line {start}: the file ends inside a continued instruction"
        ));
    }
    let mut file = Dockerfile {
        args: Vec::new(),
        stages: Vec::new(),
    };
    for (line, text) in logical {
        let (word, args) = text.split_once(char::is_whitespace).unwrap_or((&text, ""));
        let keyword = word.to_ascii_uppercase();
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(format!("line {line}: unknown instruction {word:?}"));
        }
        let instruction = Instruction {
            keyword: keyword.clone(),
            args: args.trim().to_owned(),
            line,
        };
        if keyword == "FROM" {
            let (_, rest) = instruction.flags_and_rest();
            let words: Vec<&str> = rest.split_whitespace().collect();
            let (from, name) = match words.as_slice() {
                [image] => (*image, None),
                [image, as_, name] if as_.eq_ignore_ascii_case("as") => (*image, Some(*name)),
                _ => {
                    return Err(format!(
                        "line {line}: FROM {rest:?} is not `image [AS name]`"
                    ));
                }
            };
            file.stages.push(Stage {
                from: from.to_owned(),
                name: name.map(str::to_owned),
                instructions: Vec::new(),
            });
        } else if let Some(stage) = file.stages.last_mut() {
            stage.instructions.push(instruction);
        } else if keyword == "ARG" {
            let (name, default) = instruction
                .args
                .split_once('=')
                .unwrap_or((instruction.args.as_str(), ""));
            file.args.push((name.to_owned(), default.to_owned()));
        } else {
            return Err(format!("line {line}: {keyword} before the first FROM"));
        }
    }
    if file.stages.is_empty() {
        return Err("no FROM".into());
    }
    Ok(file)
}

/// The repository's Dockerfile, parsed.
pub(crate) fn dockerfile() -> Dockerfile {
    parse(&support::read("Dockerfile")).unwrap_or_else(|e| panic!("Dockerfile: {e}"))
}

/// Whether `.dockerignore` patterns keep `path` (relative, `/`-separated) out of the build
/// context: a pattern excludes a path it matches and everything under it; `!` re-includes;
/// the last matching line wins, as in Docker.
pub(crate) fn docker_ignored(patterns: &str, path: &str) -> bool {
    let mut ignored = false;
    for line in patterns.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negate, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, line),
        };
        let pattern: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
        let segments: Vec<&str> = path.split('/').collect();
        let hit = (1..=segments.len()).any(|n| glob(&pattern, &segments[..n]));
        if hit {
            ignored = !negate;
        }
    }
    ignored
}

fn glob(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            glob(&pattern[1..], path) || (!path.is_empty() && glob(pattern, &path[1..]))
        }
        (Some(p), Some(s)) => {
            wildcard(p.as_bytes(), s.as_bytes()) && glob(&pattern[1..], &path[1..])
        }
        _ => false,
    }
}

fn wildcard(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard(&p[1..], s) || (!s.is_empty() && wildcard(p, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard(&p[1..], &s[1..]),
        (Some(a), Some(b)) => a == b && wildcard(&p[1..], &s[1..]),
        _ => false,
    }
}

/// The runtime stage's COPY destination for `path` mapped back to its repository source.
fn copied_from_repo(stage: &Stage, path: &str) -> Option<String> {
    stage.all("COPY").into_iter().find_map(|copy| {
        if copy.flag("from").is_some() {
            return None;
        }
        let (_, rest) = copy.flags_and_rest();
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (dest, sources) = words.split_last()?;
        match sources {
            [source] if *dest == path => Some((*source).to_owned()),
            [source] if dest.ends_with('/') && path.strip_prefix(*dest).is_some() => {
                Some(format!("{source}/{}", &path[dest.len()..]))
            }
            _ => None,
        }
    })
}

/// The container config the image starts with, from the ENTRYPOINT's `--config`.
pub(crate) fn image_config() -> (String, String) {
    let file = dockerfile();
    let runtime = file.stages.last().expect("a stage");
    let entry = runtime
        .last("ENTRYPOINT")
        .and_then(Instruction::exec_form)
        .expect("ENTRYPOINT in exec form");
    let at = entry
        .iter()
        .position(|a| a == "--config")
        .expect("the ENTRYPOINT passes --config");
    let path = entry[at + 1].clone();
    let source = copied_from_repo(runtime, &path)
        .unwrap_or_else(|| panic!("no COPY in the runtime stage puts a repository file at {path}"));
    (path, source)
}

#[test]
fn the_dockerfile_parser_handles_continuations_and_refuses_nonsense() {
    let ok =
        parse("ARG V=1\n# c\nFROM a:${V} AS b\nRUN x \\\n  && y\nFROM c\nCOPY --from=b /o /p\n")
            .unwrap();
    assert_eq!(ok.args, [("V".to_owned(), "1".to_owned())]);
    assert_eq!(ok.stages.len(), 2);
    assert_eq!(ok.stages[0].name.as_deref(), Some("b"));
    assert_eq!(ok.stages[0].instructions[0].args, "x && y");
    assert_eq!(
        ok.stages[1].instructions[0].flag("from").as_deref(),
        Some("b")
    );
    assert!(parse("FROM a\nFROBNICATE x\n").is_err());
    assert!(parse("RUN x\nFROM a\n").is_err());
    assert!(parse("FROM a\nRUN x \\\n").is_err());
    assert!(docker_ignored("**/target\n", "proxy/target/x"));
    assert!(docker_ignored(".git\n", ".git"));
    assert!(!docker_ignored(".git\n", "proxy/.git"));
    assert!(docker_ignored(
        "deploy/*\n!deploy/rampart.yaml\n",
        "deploy/k8s"
    ));
    assert!(!docker_ignored(
        "deploy/*\n!deploy/rampart.yaml\n",
        "deploy/rampart.yaml"
    ));
}

#[tokio::test]
async fn the_image_builds_in_a_rust_stage_and_runs_slim_as_non_root_with_ports_and_probe() {
    let file = dockerfile();
    assert!(file.stages.len() >= 2, "a multi-stage build");
    let builder = &file.stages[0];
    assert!(
        builder.from.starts_with("rust:"),
        "builder FROM {}",
        builder.from
    );
    let manifest = support::read("Cargo.toml");
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("workspace rust-version");
    if builder.from.contains("${RUST_VERSION}") {
        let default = file
            .args
            .iter()
            .find(|(n, _)| n == "RUST_VERSION")
            .map(|(_, v)| v.clone());
        assert_eq!(
            default.as_deref(),
            Some(rust_version.as_str()),
            "ARG RUST_VERSION"
        );
    }
    let build = builder
        .all("RUN")
        .into_iter()
        .find(|r| r.args.contains("cargo build"))
        .expect("the builder runs cargo build");
    for needle in [
        "--release",
        "--locked",
        "-p proxy",
        "-p mock-backends",
        "-p chaos",
        "-p loadgen",
    ] {
        assert!(
            build.args.contains(needle),
            "cargo build without {needle}: {}",
            build.args
        );
    }

    let runtime = file.stages.last().unwrap();
    assert!(
        runtime.from.contains("slim"),
        "runtime FROM {} is not a slim image",
        runtime.from
    );
    let user = runtime
        .last("USER")
        .expect("USER in the runtime stage")
        .args
        .clone();
    let name = user.split(':').next().unwrap();
    assert!(!["root", "0", ""].contains(&name), "runs as {user}");

    let (_, source) = image_config();
    let config = support::yaml(&source);
    let (listeners, admin) = config_ports(&config);
    let exposed: BTreeSet<u16> = runtime
        .all("EXPOSE")
        .iter()
        .flat_map(|e| {
            e.args
                .split_whitespace()
                .map(|p| p.split('/').next().unwrap().parse().unwrap())
        })
        .collect();
    let wanted: BTreeSet<u16> = listeners.iter().copied().chain([admin]).collect();
    assert_eq!(
        exposed, wanted,
        "EXPOSE vs the listener and admin ports of {source}"
    );

    let health = runtime
        .last("HEALTHCHECK")
        .and_then(Instruction::exec_form)
        .expect("HEALTHCHECK CMD in exec form");
    assert_eq!(health[0], "curl", "{health:?}");
    assert!(
        runtime
            .all("RUN")
            .iter()
            .any(|r| r.args.contains("apt-get install") && r.args.contains(" curl")),
        "curl is installed in the runtime stage"
    );
    let url = health
        .iter()
        .find(|a| a.starts_with("http://"))
        .expect("a URL");
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .expect("the probe calls loopback");
    let (port, path) = rest.split_at(rest.find('/').expect("a path"));
    assert_eq!(
        port.parse::<u16>().unwrap(),
        admin,
        "the probe calls the admin port"
    );
    let facts = admin_facts(&config, &[path]).await;
    assert_eq!(status_of(&facts, path), 200, "{path} on the admin API");
}

#[test]
fn every_copied_path_exists_and_is_in_the_build_context() {
    let file = dockerfile();
    let ignore = support::read(".dockerignore");
    let names: Vec<Option<String>> = file.stages.iter().map(|s| s.name.clone()).collect();
    for (i, stage) in file.stages.iter().enumerate() {
        for copy in stage.all("COPY").into_iter().chain(stage.all("ADD")) {
            let (_, rest) = copy.flags_and_rest();
            let words: Vec<&str> = rest.split_whitespace().collect();
            let (_, sources) = words.split_last().expect("COPY src… dest");
            assert!(
                !sources.is_empty(),
                "line {}: COPY without a source",
                copy.line
            );
            match copy.flag("from") {
                Some(from) => {
                    let producer = names[..i]
                        .iter()
                        .position(|n| n.as_deref() == Some(from.as_str()))
                        .unwrap_or_else(|| panic!("line {}: no earlier stage {from}", copy.line));
                    for source in sources {
                        let dir = source.trim_end_matches('/');
                        let made = file.stages[producer]
                            .all("RUN")
                            .iter()
                            .any(|r| r.args.contains(dir));
                        assert!(
                            made,
                            "line {}: stage {from} never writes {source}",
                            copy.line
                        );
                    }
                }
                None => {
                    for source in sources {
                        let rel = source.trim_start_matches("./").trim_end_matches('/');
                        assert!(
                            repo().join(rel).exists(),
                            "line {}: {source} is not in the repository",
                            copy.line
                        );
                        assert!(
                            !docker_ignored(&ignore, rel),
                            "line {}: .dockerignore drops {source}",
                            copy.line
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_entrypoint_is_a_workspace_binary_and_rampart_accepts_its_flags() {
    let file = dockerfile();
    let runtime = file.stages.last().unwrap();
    let entry = runtime
        .last("ENTRYPOINT")
        .and_then(Instruction::exec_form)
        .expect("ENTRYPOINT in exec form");
    let bins = support::workspace_bins();
    assert_eq!(entry[0], "rampart");
    assert!(
        bins.contains(&entry[0]),
        "{} is not a [[bin]] of the workspace: {bins:?}",
        entry[0]
    );
    // The builder copies each binary the compose file and the manifests run into the image.
    let build = file.stages[0]
        .all("RUN")
        .into_iter()
        .map(|r| r.args.clone())
        .collect::<String>();
    for bin in ["rampart", "mock-backends", "chaos", "loadgen"] {
        assert!(bins.contains(bin), "{bin} is not a [[bin]]");
        assert!(
            build.contains(&format!("target/release/{bin}")),
            "the image lacks {bin}"
        );
    }
    let unknown = support::unknown_flags("rampart", &[], &entry[1..]);
    assert!(unknown.is_empty(), "rampart --help lists no {unknown:?}");
    // The same arguments with the config path pointing at its repository source, plus --check.
    let (path, source) = image_config();
    let source_path = repo().join(&source);
    let mut args: Vec<String> = entry[1..]
        .iter()
        .map(|a| {
            if *a == path {
                source_path.display().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    args.push("--check".into());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = support::run("rampart", &argv);
    assert!(
        out.status.success(),
        "rampart {argv:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
