#![cfg(not(target_arch = "wasm32"))]
//! Study files: one bad-file fixture per class of error, each refused with a
//! message naming the file, the field and the reason; and a fuzz harness
//! that feeds the parser thousands of damaged files and checks it never
//! panics.

use std::path::Path;

use casebook::{StudyError, bundled_studies, parse_study};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

const FIXTURES: &str = "tests/fixtures/studies";

fn read(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture exists")
}

#[test]
fn the_valid_fixture_parses() {
    let study = parse_study("valid.toml", &read("valid.toml")).expect("valid");
    assert_eq!(study.meta.id, "tiny");
    assert_eq!(study.steps.len(), 9);
    assert_eq!(study.claims.len(), 1);
}

#[test]
fn every_bad_fixture_names_file_field_and_reason() {
    let mut checked = 0;
    let mut names: Vec<_> = std::fs::read_dir(FIXTURES)
        .expect("fixtures folder")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .filter(|n| n.starts_with("bad-"))
        .collect();
    names.sort();
    for name in names {
        let text = read(&name);
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name} starts with `# expect: `"));
        let err = parse_study(&name, &text).expect_err(&name);
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("{name}: ")), "{shown}");
        for part in expect.split('|') {
            assert!(shown.contains(part), "{name}: `{shown}` lacks `{part}`");
        }
        if let StudyError::Invalid { field, .. } = &err {
            let first = expect.split('|').next().unwrap_or_default();
            assert_eq!(field, first, "{name}: {shown}");
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} bad fixtures");
}

/// Damages a file the way hands and transfers do: a line dropped or doubled,
/// a span replaced by stray characters, a tail cut off, two lines swapped.
fn mutate(text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..rng.random_range(1..4) {
        if lines.is_empty() {
            break;
        }
        let i = rng.random_range(0..lines.len());
        match rng.random_range(0..6) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let copy = lines[i].clone();
                lines.insert(i, copy);
            }
            2 => {
                let j = rng.random_range(0..lines.len());
                lines.swap(i, j);
            }
            3 => {
                let line: Vec<char> = lines[i].chars().collect();
                let cut = rng.random_range(0..=line.len());
                lines[i] = line[..cut].iter().collect();
            }
            4 => {
                const STRAY: &[char] = &[
                    '"', '=', '[', ']', '{', '}', ',', '#', '\\', 'x', '9', '.', '-', ' ', 'é',
                    '\u{0}',
                ];
                let junk: String = (0..rng.random_range(1..6))
                    .map(|_| STRAY[rng.random_range(0..STRAY.len())])
                    .collect();
                let line: Vec<char> = lines[i].chars().collect();
                let at = rng.random_range(0..=line.len());
                lines[i] = line[..at]
                    .iter()
                    .chain(junk.chars().collect::<Vec<_>>().iter())
                    .chain(line[at..].iter())
                    .collect();
            }
            _ => {
                // Numbers swapped for extreme ones.
                const EXTREME: &[&str] = &[
                    "-1",
                    "0",
                    "1e308",
                    "nan",
                    "inf",
                    "-inf",
                    "18446744073709551616",
                    "1.5",
                ];
                let pick = EXTREME[rng.random_range(0..EXTREME.len())];
                if let Some((key, _)) = lines[i].split_once(" = ") {
                    lines[i] = format!("{key} = {pick}");
                }
            }
        }
    }
    lines.join("\n")
}

#[test]
fn the_parser_never_panics_on_damaged_files() {
    let studies = bundled_studies().expect("bundled");
    assert!(!studies.is_empty());
    let sources = [
        read("valid.toml"),
        std::fs::read_to_string("case_studies/feed-ranking.toml").expect("bundled file"),
        std::fs::read_to_string("case_studies/harmful-content.toml").expect("bundled file"),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut accepted, mut refused) = (0, 0);
    let started = std::time::Instant::now();
    for round in 0..4_000 {
        let source = &sources[round % sources.len()];
        let damaged = mutate(source, &mut rng);
        match parse_study("fuzz.toml", &damaged) {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert!(e.to_string().starts_with("fuzz.toml: "), "{e}");
                refused += 1;
            }
        }
    }
    eprintln!(
        "fuzz: {accepted} damaged files still valid, {refused} refused, in {:.2?}",
        started.elapsed()
    );
    assert!(refused > 1_000, "the mutations must break most files");
}
