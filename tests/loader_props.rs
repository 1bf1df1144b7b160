//! Property tests: the loader returns Ok or an error for any input, and never panics.
#![allow(clippy::unwrap_used)] // Test helpers may fail loudly.

use proptest::prelude::*;
use std::fmt::Write as _;
use steplab::data::{Dataset, MissingPolicy, Selection, parse_table};

fn select_all(bytes: &[u8], missing: MissingPolicy, standardize: bool) {
    if let Ok(table) = parse_table(bytes, "prop.csv") {
        for c in 0..table.columns.len() {
            assert_eq!(table.values(c).len(), table.lines.len());
        }
        let target = table.names.last().cloned();
        for target in [None, target] {
            let sel = Selection {
                target,
                features: None,
                standardize,
                missing,
            };
            if let Ok(d) = Dataset::from_table(&table, &sel) {
                assert!(
                    d.x().iter().all(|v| v.is_finite()),
                    "non-finite value reached a dataset"
                );
                assert_eq!(d.lines().len(), d.n_rows());
            }
        }
    }
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        (-1e6f64..1e6).prop_map(|v| v.to_string()),
        Just(String::new()),
        Just("NA".to_string()),
        Just("nan".to_string()),
        Just("-Infinity".to_string()),
        Just("1e400".to_string()),
        Just("\"quoted, \"\"cell\"\"\"".to_string()),
        Just("\"multi\nline\"".to_string()),
        "[a-z ]{0,6}",
        Just("3,5".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for policy in [MissingPolicy::Error, MissingPolicy::Drop, MissingPolicy::Mean] {
            select_all(&bytes, policy, true);
        }
    }

    #[test]
    fn arbitrary_small_csvs_never_panic(
        rows in proptest::collection::vec(proptest::collection::vec(cell(), 1..5), 0..8),
        delimiter in prop_oneof![Just(","), Just(";"), Just("\t"), Just("|")],
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = String::from("a,b,c,d").replace(',', delimiter);
        for row in &rows {
            text.push_str(eol);
            text.push_str(&row.join(delimiter));
        }
        for policy in [MissingPolicy::Error, MissingPolicy::Drop, MissingPolicy::Mean] {
            select_all(text.as_bytes(), policy, false);
            select_all(text.as_bytes(), policy, true);
        }
    }
}

/// The columns are filled and standardized on several cores once a file is
/// large; the result must be what a direct computation gives, column by column.
#[test]
fn large_files_fill_and_standardize_each_column_as_computed_directly() {
    let n = 30_001;
    let cell = |r: usize, j: usize| -> Option<f64> {
        // Column 1 misses every 7th cell; the others are full.
        (j != 1 || r % 7 != 3).then(|| ((r * (j + 3)) % 101) as f64 * 0.5 - 20.0 + j as f64)
    };
    let mut text = String::from("a,b,c,d,y\n");
    for r in 0..n {
        for j in 0..4 {
            if let Some(v) = cell(r, j) {
                text.push_str(&v.to_string());
            }
            text.push(',');
        }
        writeln!(text, "{}", r % 3).unwrap();
    }
    let table = parse_table(text.as_bytes(), "big.csv").unwrap();
    let sel = Selection {
        target: Some("y".into()),
        features: None,
        standardize: true,
        missing: MissingPolicy::Mean,
    };
    let d = Dataset::from_table(&table, &sel).unwrap();
    for j in 0..4 {
        let present: Vec<f64> = (0..n).filter_map(|r| cell(r, j)).collect();
        let fill = present.iter().sum::<f64>() / present.len() as f64;
        let column: Vec<f64> = (0..n).map(|r| cell(r, j).unwrap_or(fill)).collect();
        let mean = column.iter().sum::<f64>() / n as f64;
        let std = (column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        let s = d.scaling().unwrap()[j];
        assert!(
            (s.mean - mean).abs() < 1e-9 && (s.std - std).abs() < 1e-9,
            "column {j}"
        );
        for r in [0, 3, 10, n / 2, n - 1] {
            let expected = (column[r] - mean) / std;
            assert!(
                (d.x()[(r, j)] - expected).abs() < 1e-9,
                "row {r}, column {j}"
            );
        }
    }
    let filled = &d.missing_report().columns[0];
    assert_eq!(filled.column, "b");
    assert!(filled.filled_with.is_some());
    // A constant column is named, whichever core saw it.
    let mut constant = String::from("a,b,c,d,y\n");
    for r in 0..n {
        writeln!(constant, "{r},{},5,{},1", r % 5, r % 9).unwrap();
    }
    let table = parse_table(constant.as_bytes(), "constant.csv").unwrap();
    let err = Dataset::from_table(&table, &sel).unwrap_err().to_string();
    assert!(err.contains("'c'") && err.contains("constant.csv"), "{err}");
}
