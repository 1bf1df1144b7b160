//! Drives the real app headless with egui_kittest: click by label, assert state.
#![allow(clippy::unwrap_used)]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use std::path::Path;
use steplab::ui::{App, Command};

fn harness() -> Harness<'static, App> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.frame_ui(ui), App::new())
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn loss_at_shown(h: &Harness<'_, App>) -> f64 {
    let app = h.state();
    app.session().unwrap().history()[app.shown_step()].loss
}

#[test]
fn opens_on_the_bundled_example_ready_to_step() {
    let mut h = harness();
    h.run();
    assert_eq!(h.state().algorithm(), "linear-regression");
    assert_eq!(h.state().session().unwrap().step_count(), 0);
    assert!(h.state().error().is_none());
    h.get_by_label("Step").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 1);
    assert_eq!(h.state().shown_step(), 1);
    // The derivation panel shows the record's values for the shown step.
    let w = h.state().session().unwrap().history()[1].params[0];
    let shown = steplab::export::format_number(w);
    assert!(
        h.query_by_label_contains(&format!("w = [{shown}"))
            .is_some(),
        "derivation shows w = [{shown}, …]"
    );
}

#[test]
fn step_back_timeline_and_reset() {
    let mut h = harness();
    h.run();
    h.get_by_label("Step ×10").click();
    h.run();
    assert_eq!(h.state().shown_step(), 10);
    let l10 = loss_at_shown(&h);
    h.get_by_label("Back").click();
    h.run();
    assert_eq!(h.state().shown_step(), 9);
    assert!(
        loss_at_shown(&h) > l10,
        "gradient descent: the earlier loss is higher"
    );
    // Step while viewing the past moves the view forward, not the run.
    h.get_by_label("Step").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 10);
    h.state_mut().apply(Command::Show(3));
    h.run();
    assert_eq!(h.state().shown_step(), 3);
    h.get_by_label("Reset").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 0);
}

#[test]
fn keyboard_shortcuts_step_and_run() {
    let mut h = harness();
    h.run();
    h.key_press(egui::Key::ArrowRight);
    h.run();
    h.key_press(egui::Key::ArrowRight);
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 2);
    h.key_press(egui::Key::ArrowLeft);
    h.run();
    assert_eq!(h.state().shown_step(), 1);
    h.key_press(egui::Key::Space);
    h.step();
    assert!(h.state().running());
    h.state_mut().run_budget(0.5);
    assert!(h.state().session().unwrap().step_count() > 2);
    h.key_press(egui::Key::Space);
    h.step();
    assert!(!h.state().running());
    h.key_press(egui::Key::R);
    h.step();
    assert_eq!(h.state().session().unwrap().step_count(), 0);
}

#[test]
fn a_bad_file_shows_its_error_and_keeps_the_old_data() {
    let mut h = harness();
    h.run();
    h.state_mut()
        .apply(Command::LoadFile(fixture("ragged.csv")));
    h.run();
    let error = h.state().error().unwrap().to_string();
    assert!(error.contains("line 3 has 2 fields"), "{error}");
    assert!(h.query_by_label_contains("line 3 has 2 fields").is_some());
    assert_eq!(h.state().data().unwrap().feature_names()[0], "area_m2");
    h.state_mut().apply(Command::LoadFile(fixture("clean.csv")));
    h.run();
    assert!(h.state().error().is_none());
    assert_eq!(h.state().data().unwrap().feature_names(), ["x1", "x2"]);
}

#[test]
fn switching_algorithm_resets_and_rebuilds_the_derivation() {
    let mut h = harness();
    h.run();
    h.state_mut().apply(Command::LoadExample(1));
    h.run();
    assert_eq!(h.state().algorithm(), "logistic-regression");
    assert!(
        h.query_by_label_contains("Derivation: logistic-regression")
            .is_some()
    );
    h.get_by_label("Step").click();
    h.run();
    assert_eq!(h.state().session().unwrap().step_count(), 1);
    h.state_mut()
        .apply(Command::SelectAlgorithm("linear-regression".into()));
    h.run();
    // exam_pass.csv has a text target: linear regression refuses it and says why.
    assert!(h.state().error().unwrap().contains("numeric target"));
}
