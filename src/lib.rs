//! Steplab: the math that derives each machine-learning update rule, beside
//! a live plot of that same rule running on your CSV data.
//!
//! The headless core ([`data`], [`algorithms`], [`optim`], [`session`]) imports
//! no GUI code; the [`cli`] and the [`ui`] both drive it.
//!
//! ```
//! use steplab::algorithms::{entry, Hyper};
//! use steplab::data::Dataset;
//! use steplab::session::Session;
//!
//! let data = Dataset::from_columns(&["x"], &[vec![0.0, 1.0, 2.0]], Some(("y", vec![1.0, 3.0, 5.0]))).unwrap();
//! let algorithm = (entry("linear-regression").unwrap().create)(&Hyper::default()).unwrap();
//! let mut session = Session::new(algorithm, &data).unwrap();
//! session.run(&data, 500);
//! let w = session.algorithm().params();
//! assert!((w[0] - 2.0).abs() < 1e-6 && (w[1] - 1.0).abs() < 1e-6);
//! ```

pub mod algorithms;
pub mod cli;
pub mod data;
pub mod export;
pub mod math;
pub mod optim;
pub mod rng;
pub mod session;
pub mod ui;

/// jemalloc places every large block on a 64-byte boundary (a cache
/// line); the system allocator put a million-row feature matrix 16 bytes
/// past one, so that every 512-bit load of a column straddled two lines.
/// Steps at 1M × 10 took 4–20% less time on aligned columns (`steplab
/// run`, three alternating runs: logistic 2.4 → 2.0 ms, k-means 2.8 → 2.3,
/// GMM 15.2 → 12.2, MLP 10.2 → 9.4). jemalloc does not build with MSVC,
/// whose builds keep the system allocator.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
