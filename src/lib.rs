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
