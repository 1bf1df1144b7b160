//! A million-row file generated on the fly loads, through the parallel fast
//! path, to exactly the values of the sequential reference parser.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use steplab::data::table::parse_sequential;
use steplab::data::{Dataset, MissingPolicy, Progress, Selection, parse_table, read_table_with};
use steplab::rng::Rng;

#[test]
fn a_million_rows_load_like_the_sequential_parser() {
    let mut rng = Rng::new(3);
    let mut text = String::from("a,b,c,label\n");
    for i in 0..1_000_000 {
        let a = rng.normal() * 1e3;
        let b = if i % 100_003 == 7 {
            "NA".to_string()
        } else {
            format!("{:.9}", rng.normal())
        };
        let label = if rng.uniform() < 0.5 { "yes" } else { "no" };
        let _ = writeln!(text, "{a:.6},{b},{},{label}", i % 17);
    }
    let fast = parse_table(text.as_bytes(), "big.csv").unwrap();
    let slow = parse_sequential(&text, b',', false, "big.csv").unwrap();
    // The streaming reader: one part of the file per core, read a megabyte at a time.
    let dir = std::env::temp_dir().join(format!("steplab-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.csv");
    std::fs::write(&path, &text).unwrap();
    let progress = Progress::default();
    let streamed = read_table_with(&path, &progress).unwrap();
    assert!((progress.fraction() - 1.0).abs() < 1e-6);
    std::fs::remove_dir_all(&dir).unwrap();
    for other in [&fast, &streamed] {
        assert_eq!(other.lines, slow.lines);
        for (f, s) in other.columns.iter().zip(&slow.columns) {
            assert!(
                f.values
                    .iter()
                    .zip(&s.values)
                    .all(|(u, v)| u.to_bits() == v.to_bits())
            );
            assert_eq!(f.texts, s.texts);
            assert_eq!(f.first_missing, s.first_missing);
            assert_eq!(f.missing_count, s.missing_count);
        }
    }
    assert_eq!(fast.columns[1].first_missing[0].line, 9);
    let sel = Selection {
        target: Some("label".into()),
        features: None,
        standardize: true,
        missing: MissingPolicy::Drop,
        target_is_class: true,
    };
    let d1 = Dataset::from_table(&fast, &sel).unwrap();
    let d2 = Dataset::from_table(&slow, &sel).unwrap();
    assert_eq!(d1.n_rows(), 1_000_000 - 10);
    assert_eq!(d1.x(), d2.x());
    assert_eq!(d1.target(), d2.target());
}
