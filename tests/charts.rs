#![cfg(not(target_arch = "wasm32"))]
//! The charts, drawn as SVG by the same calls the page makes on its canvas:
//! every chart a bundled study's step shows is drawn from a real run, and
//! shows the numbers the report measured (legends, percentile markers,
//! counts), for one design and for two in compare mode. With
//! `CASEBOOK_CHART_DIR` set, the charts are written there to look at.

use casebook::charts::{ChartData, Series, Theme, describe, draw};
use casebook::{Chart, DEFAULT_SEED, Report, Runner, Study, bundled_studies};
use plotters::prelude::*;

fn svg(chart: Chart, series: &[Series<'_>], theme: Theme) -> String {
    let mut out = String::new();
    {
        let area = SVGBackend::with_string(&mut out, (640, 400)).into_drawing_area();
        draw(chart, series, &area, theme).expect("the chart draws");
    }
    out
}

fn runs() -> Vec<(Study, Report)> {
    let mut runner = Runner::default();
    bundled_studies()
        .expect("bundled studies")
        .into_iter()
        .map(|study| {
            let report = runner
                .run(&study, &study.default_design(DEFAULT_SEED))
                .expect("the default design runs");
            (study, report)
        })
        .collect()
}

fn bundled(id: &str) -> Study {
    bundled_studies()
        .expect("bundled studies")
        .into_iter()
        .find(|s| s.meta.id == id)
        .unwrap_or_else(|| panic!("no bundled study {id}"))
}

fn metric(report: &Report, key: &str) -> f64 {
    report
        .metric(key)
        .unwrap_or_else(|| panic!("{}: no metric {key}", report.study))
}

#[test]
fn every_chart_a_step_shows_draws_what_the_report_measured() {
    for (study, report) in runs() {
        let data = ChartData::from(&report);
        let current = [Series {
            label: "Current",
            data: &data,
        }];
        for step in &study.steps {
            for &chart in &step.charts {
                let at = format!(
                    "{} step {:?} chart {}",
                    study.meta.id,
                    step.step,
                    chart.id()
                );
                assert!(describe(chart, &data).is_some(), "{at}: not measured");
                let drawn = svg(chart, &current, Theme::default());
                // `CASEBOOK_CHART_DIR=dir` keeps every chart to look at.
                if let Some(dir) = std::env::var_os("CASEBOOK_CHART_DIR") {
                    let name = format!("{}-{}-{}.svg", study.meta.id, step.step.id(), chart.id());
                    std::fs::write(std::path::Path::new(&dir).join(name), &drawn)
                        .expect("write the chart");
                }
                assert!(!drawn.contains("Not measured"), "{at}");
                assert!(drawn.matches("<text").count() >= 4, "{at}: no labels");
                let expect: Vec<String> = match chart {
                    Chart::Roc => vec![
                        format!("Current (AUC {:.3})", metric(&report, "offline.auc")),
                        "False positive rate".to_owned(),
                    ],
                    Chart::Pr => vec![format!(
                        "Current (AP {:.3})",
                        metric(&report, "offline.pr_auc")
                    )],
                    Chart::Calibration => vec![format!(
                        "Current (ECE {:.3})",
                        metric(&report, "offline.ece")
                    )],
                    // Percentiles that read the same share a label
                    // ("p50–p99 7.2 ms").
                    Chart::Latency => vec![
                        "p50".to_owned(),
                        format!("{:.1} ms", metric(&report, "serving.p50_ms")),
                        "p99".to_owned(),
                        format!("{:.1} ms", metric(&report, "serving.p99_ms")),
                        format!("SLO {} ms", metric(&report, "serving.slo_ms")),
                    ],
                    Chart::Confusion => {
                        let c = data.curves.as_ref().expect("curves").confusion;
                        assert_eq!(
                            c.iter().sum::<u64>(),
                            metric(&report, "data.test_rows") as u64,
                            "{at}"
                        );
                        c.iter().map(|n| format!("\n{n}\n")).collect()
                    }
                    Chart::AbTest => vec![format!("{:+.4}", metric(&report, "ab.difference"))],
                    Chart::Cost => vec![format!(
                        "${:.2}",
                        metric(&report, "serving.cost_per_million")
                            * metric(&report, "serving.requests_per_day")
                            / 1e6
                    )],
                    Chart::Drift => {
                        let drift = data.drift.as_ref().expect("a timeline");
                        vec![
                            drift.baseline.clone(),
                            drift.metric.clone(),
                            "Drift statistic".to_owned(),
                        ]
                    }
                    Chart::Loss => vec!["Current: validation".to_owned(), "Epoch".to_owned()],
                    Chart::Scores => vec!["Current: positives".to_owned()],
                    Chart::Throughput => vec!["p99 latency, ms".to_owned()],
                };
                for text in expect {
                    assert!(drawn.contains(&text), "{at}: no `{text}` in\n{drawn}");
                }
            }
        }
    }
}

/// Where a study decides, the ROC and PR charts mark where its threshold
/// puts the classifier: the posts at or above it are the ones the policy
/// removed without review (counted by the policy itself), and the dot
/// moves with the threshold knob.
#[test]
fn the_threshold_marks_the_policy_on_the_roc_and_pr_curves() {
    let study = bundled("harmful-content");
    let mut runner = Runner::default();
    let mut point_at = |high: f64| {
        let mut design = study.default_design(DEFAULT_SEED);
        study
            .set(&mut design, "threshold_high", &high.to_string())
            .expect("a valid threshold");
        let report = runner.run(&study, &design).expect("the design runs");
        let data = ChartData::from(&report);
        let curves = data.curves.as_ref().expect("curves");
        let [fpr, recall, precision] = curves.operating_point().expect("a threshold");
        // The posts above the threshold are those the policy removed
        // unreviewed, and the dot's rates are theirs.
        let [tn, fp, fn_, tp] = curves.confusion.map(|n| n as f64);
        assert!(tp + fp > 0.0, "{high}: nothing flagged");
        let flagged = curves.confusion[1] + curves.confusion[3];
        assert_eq!(flagged, metric(&report, "policy.removed") as u64, "{high}");
        assert!((precision - tp / (tp + fp)).abs() < 1e-12);
        assert!((recall - tp / (tp + fn_)).abs() < 1e-12);
        assert!((fpr - fp / (fp + tn)).abs() < 1e-12);
        let series = [Series {
            label: "Current",
            data: &data,
        }];
        let label = format!("Current at threshold {high}");
        for chart in [Chart::Roc, Chart::Pr] {
            assert!(
                svg(chart, &series, Theme::default()).contains(&label),
                "{chart:?}"
            );
        }
        let caption = describe(Chart::Pr, &data).expect("a caption");
        assert!(
            caption.contains(&format!("at threshold {high}, recall {recall:.3}")),
            "{caption}"
        );
        (fpr, recall)
    };
    let strict = point_at(0.95);
    let loose = point_at(0.6);
    assert!(
        loose.0 > strict.0 && loose.1 > strict.1,
        "{strict:?} {loose:?}"
    );
}

#[test]
fn compare_mode_draws_both_designs_with_their_own_numbers() {
    let study = bundled("feed-ranking");
    let mut runner = Runner::default();
    let mut design = study.default_design(DEFAULT_SEED);
    let a = runner.run(&study, &design).expect("A runs");
    study
        .set(&mut design, "model", "popularity")
        .expect("a valid model");
    let b = runner.run(&study, &design).expect("B runs");
    let (a_data, b_data) = (ChartData::from(&a), ChartData::from(&b));
    let series = [
        Series {
            label: "B",
            data: &b_data,
        },
        Series {
            label: "A",
            data: &a_data,
        },
    ];
    let roc = svg(Chart::Roc, &series, Theme::default());
    let auc = |r: &Report| metric(r, "offline.auc");
    assert!(roc.contains(&format!("B (AUC {:.3})", auc(&b))), "{roc}");
    assert!(roc.contains(&format!("A (AUC {:.3})", auc(&a))), "{roc}");
    assert!(auc(&a) > auc(&b), "the trained ranker beats popularity");
    // Each design in its own colour: the blue and the orange of the palette.
    assert!(roc.contains("#0072B2"), "{roc}");
    assert!(roc.contains("#E69F00"), "{roc}");
}

#[test]
fn the_dark_theme_paints_the_dark_surface_and_light_text() {
    let (_, report) = runs().swap_remove(0);
    let data = ChartData::from(&report);
    let series = [Series {
        label: "Current",
        data: &data,
    }];
    let dark = svg(
        Chart::Roc,
        &series,
        Theme {
            dark: true,
            scale: 2.0,
        },
    );
    assert!(dark.contains("#1D2026"), "dark surface");
    assert!(dark.contains("#E8EAEE"), "light text");
    let light = svg(Chart::Roc, &series, Theme::default());
    assert!(!light.contains("#1D2026"));
}
