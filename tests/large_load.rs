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
    // Loading straight to a dataset builds the matrix in the table's own
    // buffer (column c moved down over b): the same as from the reference.
    let sel = Selection {
        target: Some("label".into()),
        features: Some(vec!["a".into(), "c".into()]),
        standardize: true,
        missing: MissingPolicy::Error,
    };
    let loaded = Dataset::load(&path, &sel).unwrap();
    let reference = Dataset::from_table(&slow, &sel).unwrap();
    assert_eq!(loaded.x(), reference.x());
    assert_eq!(loaded.target(), reference.target());
    assert_eq!(loaded.lines(), reference.lines());
    assert_eq!(loaded.scaling(), reference.scaling());
    std::fs::remove_dir_all(&dir).unwrap();
    for other in [&fast, &streamed] {
        assert_eq!(other.lines, slow.lines);
        for c in 0..slow.columns.len() {
            assert!(
                other
                    .values(c)
                    .iter()
                    .zip(slow.values(c))
                    .all(|(u, v)| u.to_bits() == v.to_bits())
            );
        }
        for (f, s) in other.columns.iter().zip(&slow.columns) {
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
    };
    let d1 = Dataset::from_table(&fast, &sel).unwrap();
    let d2 = Dataset::from_table(&slow, &sel).unwrap();
    assert_eq!(d1.n_rows(), 1_000_000 - 10);
    assert_eq!(d1.x(), d2.x());
    assert_eq!(d1.target(), d2.target());
    // Matrices made in the file's buffer or copied start on a cache line
    // (the allocator's doing: see the crate root), so the passes' 64-byte
    // loads never straddle two lines.
    #[cfg(not(target_env = "msvc"))]
    for x in [loaded.x(), reference.x(), d1.x()] {
        assert_eq!(x.as_slice().as_ptr() as usize % 64, 0);
    }
}

/// `Dataset::load` (the matrix made in the table's buffer when every row is
/// kept and the features are in file order, else copied) gives what
/// `Dataset::from_table` gives, whatever the selection.
#[test]
fn loading_selects_like_from_table() {
    let mut text = String::from("p,q,r,s,label\n");
    for i in 0..300 {
        let q = if i % 37 == 5 {
            String::new()
        } else {
            format!("{}", (i * 7 % 11) as f64 * 0.5)
        };
        let _ = writeln!(
            text,
            "{i},{q},{},{},{}",
            (i * i) % 13,
            i % 5,
            ["x", "y"][i % 2]
        );
    }
    let dir = std::env::temp_dir().join(format!("steplab-select-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("small.csv");
    std::fs::write(&path, &text).unwrap();
    let table = parse_table(text.as_bytes(), &path.display().to_string()).unwrap();
    let names = |n: &[&str]| Some(n.iter().map(ToString::to_string).collect());
    for (features, missing, standardize) in [
        (None, MissingPolicy::Mean, true),
        (None, MissingPolicy::Drop, true),
        (names(&["p", "r", "s"]), MissingPolicy::Error, true),
        (names(&["s", "p"]), MissingPolicy::Error, false),
        (names(&["r"]), MissingPolicy::Error, false),
        (names(&["q", "s"]), MissingPolicy::Mean, false),
    ] {
        for target in [None, Some("label".to_string()), Some("r".to_string())] {
            let sel = Selection {
                target,
                features: features.clone(),
                standardize,
                missing,
            };
            let loaded = Dataset::load(&path, &sel);
            let reference = Dataset::from_table(&table, &sel);
            match (loaded, reference) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.x(), b.x(), "{sel:?}");
                    assert_eq!(a.target(), b.target());
                    assert_eq!(a.lines(), b.lines());
                    assert_eq!(a.scaling(), b.scaling());
                    assert_eq!(a.missing_report(), b.missing_report());
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("{sel:?}: {:?} vs {:?}", a.err(), b.err()),
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn numpy_savetxt_files_load_like_the_sequential_parser() {
    // numpy's default format, an exponent in every field, with a few
    // fields its short path leaves to the others (exponents past 10²⁷,
    // no decimals, a missing marker).
    let mut rng = Rng::new(8);
    let mut text = String::from("x,y,z\n");
    for i in 0..300_000 {
        let z = match i % 50_000 {
            11 => "1.5e+40".to_string(),
            12 => "3e-02".to_string(),
            13 => "nan".to_string(),
            _ => format!("{:.18e}", rng.normal() * 10f64.powi((i % 9) - 4)),
        };
        let (x, y) = (rng.normal(), rng.normal() * 1e-7);
        let _ = writeln!(text, "{x:.18e},{y:.18e},{z}");
    }
    let slow = parse_sequential(&text, b',', false, "np.csv").unwrap();
    let dir = std::env::temp_dir().join(format!("steplab-numpy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("np.csv");
    std::fs::write(&path, &text).unwrap();
    let streamed = read_table_with(&path, &Progress::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    for table in [&streamed, &parse_table(text.as_bytes(), "np.csv").unwrap()] {
        assert_eq!(table.lines, slow.lines);
        for c in 0..3 {
            let same = table.values(c).iter().zip(slow.values(c));
            assert!(
                same.clone().all(|(u, v)| u.to_bits() == v.to_bits()),
                "column {c}"
            );
            assert_eq!(table.values(c).len(), 300_000);
        }
        assert_eq!(table.columns[2].missing_count, 6);
    }
}
