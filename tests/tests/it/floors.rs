//! The floors of `bot/src`: each module sits on one floor and may import only its own floor and
//! the ones below; no two modules import each other, directly or round a loop.
//!
//! The check reads every `crate::…` and `super::…` path in `bot/src` (tests, comments and
//! test-only modules left out) and fails on an import that climbs, on a loop, and on a module
//! that no floor names, so a new module must be placed before it lands.
//!
//! Inside every crate of the workspace (`bot`, `commands` and the adapters), the files of one
//! folder import each other in one direction only: no file imports a sibling that imports it
//! back, directly or round a loop (a shared piece moves down into a file both import).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The floors, from the ground up. A module is a top-level module of `bot/src`, or one of its
/// submodules when it stands on another floor than its parent (`engine::render`).
const FLOORS: &[(&str, &[&str])] = &[
    // Values and rules with no IO of their own: time, the configuration, runbook files, alert
    // payloads, on-call schedule files, the single-process lock.
    (
        "foundation",
        &[
            "clock", "config", "files", "runbooks", "alerts", "oncall", "lock", "replica",
        ],
    ),
    // All SQL, and the metrics, which read the open incidents from it at scrape time.
    ("store", &["store", "metrics"]),
    // Turning records into messages: everyone may use them; they use nothing above the store.
    ("views", &["engine::render"]),
    // Everything that runs inside a command's (or a reminder's) transaction: the actions, the
    // reminder rules, postmortem gathering, archiving, alert intake decisions.
    ("engine", &["engine"]),
    // What spawns tasks and talks to the world: the scheduler (and the retention it runs), the
    // outbox's dispatcher, the HTTP endpoints, start-up and the command line.
    (
        "runtime",
        &[
            "outbox",
            "supervise",
            "leader",
            "wakeups",
            "gateway",
            "retention",
            "scheduler",
            "alerts::http",
            "http",
            "slack_setup",
            "app",
            "doctor",
            "cli",
            "web",
            "feeds",
            "report",
        ],
    ),
];

/// Imports that climb today, each with why; the list only shrinks.
const ALLOWED: &[(&str, &str, &str)] = &[];

#[test]
fn bot_modules_import_only_their_floor_and_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bot/src");
    let floor_of = floors();
    let graph = imports(&src, &floor_of);
    let mut wrong = Vec::new();
    for (from, tos) in &graph {
        for (to, file) in tos {
            if floor_of[from.as_str()] < floor_of[to.as_str()]
                && !ALLOWED.iter().any(|(f, t, _)| f == from && t == to)
            {
                let (up, _) = FLOORS[floor_of[to.as_str()]];
                let (down, _) = FLOORS[floor_of[from.as_str()]];
                wrong.push(format!(
                    "{}: `{from}` ({down}) imports `{to}` ({up}), a higher floor",
                    file.display()
                ));
            }
        }
    }
    for (from, to, why) in ALLOWED {
        let used = graph
            .get(*from)
            .is_some_and(|tos| tos.iter().any(|(t, _)| t == to));
        if !used {
            wrong.push(format!(
                "allowed `{from}` -> `{to}` ({why}) is not used any more: strike it from ALLOWED"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn bot_modules_import_no_loop() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bot/src");
    let floor_of = floors();
    let graph = imports(&src, &floor_of);
    let edges: BTreeMap<&str, BTreeSet<&str>> = graph
        .iter()
        .map(|(from, tos)| {
            (
                from.as_str(),
                tos.iter().map(|(to, _)| to.as_str()).collect(),
            )
        })
        .collect();
    let mut done = BTreeSet::new();
    for start in edges.keys() {
        let mut path = Vec::new();
        if let Some(lp) = find_loop(start, &edges, &mut path, &mut done) {
            panic!("modules import each other: {}", lp.join(" -> "));
        }
    }
}

/// The crates whose folders must hold no loop between their files.
const CRATES: &[&str] = &[
    "bot/src",
    "commands/src",
    "adapters/console/src",
    "adapters/slack/src",
    "adapters/discord/src",
];

#[test]
fn files_in_one_folder_import_no_loop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut loops = Vec::new();
    for krate in CRATES {
        let graph = sibling_imports(&root.join(krate));
        assert!(
            !graph.is_empty() || *krate != "bot/src",
            "the check sees bot's files"
        );
        loops.extend(
            loops_in(&graph)
                .into_iter()
                .map(|lp| format!("{krate}: {}", lp.join(" -> "))),
        );
    }
    assert!(
        loops.is_empty(),
        "files of one folder import each other:\n{}",
        loops.join("\n")
    );
}

#[test]
fn the_check_finds_loops_between_sibling_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = dir.path();
    std::fs::create_dir(src.join("rb")).expect("folder");
    for (file, text) in [
        ("lib.rs", "mod rb;\nmod top;\n"),
        ("top.rs", "use crate::rb::parse::Lines;\n"),
        ("rb/mod.rs", "mod action;\nmod parse;\n"),
        (
            "rb/parse.rs",
            "use super::action;\npub use crate::files::Lines;\n",
        ),
        (
            "rb/action.rs",
            "use super::parse::Lines;\n// use super::top; in a comment\n",
        ),
    ] {
        std::fs::write(src.join(file), text).expect("write");
    }
    let graph = sibling_imports(src);
    // `top` -> `rb::parse` crosses folders and is no sibling edge.
    assert_eq!(graph.get("top"), None);
    assert_eq!(
        loops_in(&graph),
        [vec!["rb::action", "rb::parse", "rb::action"]]
    );
    std::fs::write(src.join("rb/action.rs"), "use crate::files::Lines;\n").expect("write");
    assert!(loops_in(&sibling_imports(src)).is_empty());
}

/// File module (`runbooks::parse`) → the files of the same folder it imports (`runbooks::action`,
/// or a sibling folder's `mod.rs`), for the crate whose root is `src`.
fn sibling_imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(src);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_path(src, file);
        if module.is_empty() || module == ["main"] {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("readable source");
        for path in crate_paths(&text, &module) {
            let Some(to) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains(p))
            else {
                continue;
            };
            let parent = &module[..module.len() - 1];
            if to != module && to.len() == module.len() && to[..to.len() - 1] == *parent {
                graph
                    .entry(module.join("::"))
                    .or_default()
                    .insert(to.join("::"));
            }
        }
    }
    graph
}

/// One loop through each part of `graph` that has one.
fn loops_in(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<&str>> {
    let edges: BTreeMap<&str, BTreeSet<&str>> = graph
        .iter()
        .map(|(from, tos)| (from.as_str(), tos.iter().map(String::as_str).collect()))
        .collect();
    let mut done = BTreeSet::new();
    let mut loops = Vec::new();
    for start in edges.keys() {
        if let Some(lp) = find_loop(start, &edges, &mut Vec::new(), &mut done) {
            done.extend(lp.iter().copied());
            loops.push(lp);
        }
    }
    loops
}

#[test]
fn the_check_sees_imports() {
    let text = "use crate::{\n    engine::{Engine, render::View},\n    store,\n};\n\
                // crate::cli in a comment\nfn f() { crate::outbox::Op::Pin; super::x(); }\n";
    let paths = crate_paths(text, &["engine".to_owned(), "actions".to_owned()]);
    let names: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        names,
        [
            "engine::Engine",
            "engine::render::View",
            "store",
            "outbox::Op::Pin",
            "engine::x"
        ]
    );
}

#[test]
fn the_check_finds_loops() {
    let edges: BTreeMap<&str, BTreeSet<&str>> = [
        ("a", BTreeSet::from(["b"])),
        ("b", BTreeSet::from(["c"])),
        ("c", BTreeSet::from(["a"])),
        ("d", BTreeSet::from(["a"])),
    ]
    .into_iter()
    .collect();
    let mut done = BTreeSet::new();
    let found = find_loop("d", &edges, &mut Vec::new(), &mut done);
    assert_eq!(found, Some(vec!["a", "b", "c", "a"]));
    let acyclic: BTreeMap<&str, BTreeSet<&str>> =
        [("a", BTreeSet::from(["b"]))].into_iter().collect();
    assert_eq!(
        find_loop("a", &acyclic, &mut Vec::new(), &mut BTreeSet::new()),
        None
    );
}

/// Each declared module's floor (its index in [`FLOORS`]).
fn floors() -> BTreeMap<&'static str, usize> {
    let mut floor_of = BTreeMap::new();
    for (n, (_, modules)) in FLOORS.iter().enumerate() {
        for m in *modules {
            assert!(floor_of.insert(*m, n).is_none(), "`{m}` is on two floors");
        }
    }
    floor_of
}

/// The declared module a path belongs to: the longest declared prefix.
fn module_of<'a>(path: &[String], floor_of: &BTreeMap<&'a str, usize>) -> Option<&'a str> {
    (1..=path.len())
        .rev()
        .find_map(|n| floor_of.get_key_value(path[..n].join("::").as_str()))
        .map(|(k, _)| *k)
}

/// Module → the declared modules it imports, with a file that does.
fn imports(
    src: &Path,
    floor_of: &BTreeMap<&'static str, usize>,
) -> BTreeMap<String, BTreeSet<(String, PathBuf)>> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("bot/src/lib.rs");
    for line in lib.lines() {
        if let Some(name) = line
            .trim()
            .strip_prefix("pub mod ")
            .or(line.trim().strip_prefix("mod "))
            .and_then(|l| l.strip_suffix(';'))
        {
            assert!(
                floor_of.contains_key(name),
                "module `{name}` stands on no floor: add it to FLOORS in tests/tests/it/floors.rs"
            );
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<(String, PathBuf)>> = BTreeMap::new();
    for file in rust_files(src) {
        let module = module_path(src, &file);
        if module.is_empty() || module == ["main"] {
            continue;
        }
        let from = module_of(&module, floor_of).unwrap_or_else(|| {
            panic!(
                "{} is in no module of FLOORS (tests/tests/it/floors.rs)",
                file.display()
            )
        });
        let text = std::fs::read_to_string(&file).expect("readable source");
        for path in crate_paths(&text, &module) {
            if let Some(to) = module_of(&path, floor_of)
                && to != from
            {
                let rel = file.strip_prefix(src).unwrap_or(&file).to_path_buf();
                let tos = graph.entry(from.to_owned()).or_default();
                if !tos.iter().any(|(t, _)| t == to) {
                    tos.insert((to.to_owned(), Path::new("bot/src").join(rel)));
                }
            }
        }
    }
    graph
}

/// The `.rs` files below `dir`, leaving out modules declared `#[cfg(test)]`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("readable folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let test_only: BTreeSet<PathBuf> = files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("readable source");
            let folder = match f.file_name().and_then(|n| n.to_str()) {
                Some("mod.rs" | "lib.rs" | "main.rs") => f.parent().map(Path::to_path_buf),
                _ => Some(f.with_extension("")),
            }
            .unwrap_or_default();
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            lines
                .windows(2)
                .filter(|w| w[0] == "#[cfg(test)]")
                .filter_map(|w| {
                    w[1].strip_prefix("mod ")
                        .and_then(|m| m.strip_suffix(';'))
                        .map(str::to_owned)
                })
                .flat_map(|m| {
                    [
                        folder.join(format!("{m}.rs")),
                        folder.join(&m).join("mod.rs"),
                    ]
                })
                .collect::<Vec<_>>()
        })
        .collect();
    files.retain(|f| !test_only.contains(f));
    files.sort();
    files
}

/// `bot/src/engine/actions/ack.rs` → `["engine", "actions", "ack"]`; `mod.rs` names its folder.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(src)
        .expect("below bot/src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Every `crate::…` and `super::…` path in `text` (a file of `module`), as crate-rooted paths,
/// with comments and the `#[cfg(test)] mod … { … }` blocks left out.
fn crate_paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|l| l.trim().starts_with("mod ") && l.trim().ends_with('{'))
        {
            break;
        }
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let before_ok = i == 0 || !is_ident(bytes[i - 1]);
        let (base, skip) = if before_ok && rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if before_ok && rest.starts_with("super::") {
            let mut base = module.to_vec();
            let mut skip = 0;
            while code[i + skip..].starts_with("super::") {
                base.pop();
                skip += "super::".len();
            }
            (base, skip)
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        i += skip;
        i = read_tree(&code, i, base, &mut paths);
    }
    paths
}

/// Reads a path or a `{…}` group at `i`, pushing each full path onto `out` (prefixed with
/// `base`); returns where it ended.
fn read_tree(code: &str, mut i: usize, base: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let bytes = code.as_bytes();
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut path = base;
    loop {
        i = skip_space(i);
        if i < bytes.len() && bytes[i] == b'{' {
            i += 1;
            loop {
                i = skip_space(i);
                if i >= bytes.len() {
                    return i;
                }
                match bytes[i] {
                    b'}' => return i + 1,
                    b',' => i += 1,
                    _ => {
                        let before = i;
                        i = read_tree(code, i, path.clone(), out);
                        if i == before {
                            i += 1;
                        }
                    }
                }
            }
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if i == start {
            if !path.is_empty() {
                out.push(path);
            }
            return i;
        }
        let segment = &code[start..i];
        if segment != "self" {
            path.push(segment.to_owned());
        }
        if code[i..].starts_with("::") {
            i += 2;
        } else {
            out.push(path);
            return i;
        }
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A loop through `at`, as module names, if there is one not already ruled out in `done`.
fn find_loop<'a>(
    at: &'a str,
    edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<&'a str>> {
    if let Some(n) = path.iter().position(|m| *m == at) {
        let mut lp = path[n..].to_vec();
        lp.push(at);
        return Some(lp);
    }
    if done.contains(at) {
        return None;
    }
    path.push(at);
    for next in edges.get(at).into_iter().flatten() {
        if let Some(lp) = find_loop(next, edges, path, done) {
            return Some(lp);
        }
    }
    path.pop();
    done.insert(at);
    None
}
