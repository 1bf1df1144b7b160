//! Property tests: the loader returns Ok or an error for any input, and never panics.
#![allow(clippy::unwrap_used)] // Test helpers may fail loudly.

use proptest::prelude::*;
use steplab::data::{Dataset, MissingPolicy, Selection, parse_table};

fn select_all(bytes: &[u8], missing: MissingPolicy, standardize: bool) {
    if let Ok(table) = parse_table(bytes, "prop.csv") {
        assert!(
            table
                .columns
                .iter()
                .all(|c| c.values.len() == table.lines.len())
        );
        let target = table.names.last().cloned();
        for target in [None, target] {
            let sel = Selection {
                target,
                features: None,
                standardize,
                missing,
                target_is_class: false,
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
