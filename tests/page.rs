//! What a person sees: the release build in `dist/`, served over HTTP at the
//! root and under a sub-path, opened in a real headless Chromium through
//! chromedriver, with and without WebGPU.
//!
//! Needs `trunk build --release` to have written `dist/` (or `CASEBOOK_DIST`
//! to name another folder), `chromium` and `chromedriver` on PATH. `make test`
//! provides all three; `cargo test --features page-tests --test page` runs it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use casebook::DesignStep;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// The sub-path the build is also served under, as a static host would.
const SUB_PATH: &str = "/casebook/";

/// A sub-path that serves the build without the engine worker's WebAssembly,
/// as a broken deployment would.
const NO_ENGINE_PATH: &str = "/no-engine/";

#[tokio::test(flavor = "multi_thread")]
async fn root_with_webgpu_shows_name_steps_and_adapter() {
    let browser = Browser::start(true).await;
    let label = browser.open_and_check("/").await;
    // The adapter as the browser names it (headless Chromium's is
    // SwiftShader), not wgpu's empty description.
    assert!(
        label.starts_with("WebGPU (") && label.to_lowercase().contains("swiftshader"),
        "backend label was {label:?}"
    );
    browser.screenshot("root-webgpu").await;
    browser.close().await;
}

/// With a WebGPU adapter the engine's kernels run on it: the report names
/// it, and its numbers agree with the CPU reference's, run natively here
/// (the scores differ in their last bits, nothing a card shows).
#[tokio::test(flavor = "multi_thread")]
async fn a_run_on_webgpu_agrees_with_the_cpu_reference() {
    let browser = Browser::start(true).await;
    let label = browser.open_and_check("/?step=model").await;
    assert!(label.starts_with("WebGPU ("), "backend label was {label:?}");
    let auc = browser.card_after_run("offline.auc").await;
    let json: serde_json::Value =
        serde_json::from_str(&browser.fetch_link("[data-testid=export-json]").await)
            .expect("the report is JSON");
    assert_eq!(json["backend"], label.as_str());
    let study = &casebook::bundled_studies().expect("bundled studies")[0];
    let reference = casebook::Runner::default()
        .run(study, &study.default_design(casebook::DEFAULT_SEED))
        .expect("the default design runs natively");
    for key in [
        "offline.auc",
        "offline.log_loss",
        "offline.ndcg_at_10",
        "online.ctr",
    ] {
        let on_page = json["metrics"][key].as_f64().expect(key);
        let cpu = reference.metric(key).expect(key);
        assert!(
            (on_page - cpu).abs() <= 1e-4 * cpu.abs().max(1.0),
            "{key}: {on_page} on {label}, {cpu} on the CPU"
        );
    }
    assert_eq!(
        auc,
        format!("{:.4}", reference.metric("offline.auc").expect("an AUC"))
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn root_without_webgpu_falls_back_to_cpu() {
    let browser = Browser::start(false).await;
    let label = browser.open_and_check("/").await;
    assert_eq!(label, "CPU");
    browser.screenshot("root-cpu").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sub_path_deployment_works_unchanged() {
    let browser = Browser::start(true).await;
    let label = browser.open_and_check(SUB_PATH).await;
    assert!(label.starts_with("WebGPU ("), "backend label was {label:?}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_knob_reruns_the_engine_and_lives_in_the_url() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser
        .client
        .goto(&format!("{base}?step=model"))
        .await
        .expect("page loads");
    let heading = browser.wait_text("#step-heading").await;
    assert_eq!(heading, "Step 6: Model development and offline evaluation");
    let before = browser.card_after_run("offline.auc").await;
    let auc_before: f64 = before.parse().expect("a number");
    assert!(auc_before > 0.6 && auc_before < 0.95, "ROC-AUC {before}");

    let select = browser
        .client
        .find(Locator::Css("select[data-knob=model]"))
        .await
        .expect("the model knob");
    select
        .select_by_value("popularity")
        .await
        .expect("choose popularity");
    let after = browser.wait_for_card_change("offline.auc", &before).await;
    let auc_after: f64 = after.parse().expect("a number");
    assert!(
        auc_after < auc_before - 0.05,
        "popularity {after} vs logistic {before}"
    );
    let delta = browser.text("[data-metric='offline.auc'] .delta").await;
    assert!(delta.contains("worse"), "delta was {delta:?}");
    let url = browser.client.current_url().await.expect("url").to_string();
    assert!(
        url.contains("model=popularity") && url.contains("step=model"),
        "{url}"
    );

    // Back restores the previous design, and its numbers.
    browser.client.back().await.expect("back");
    let restored = browser.wait_for_card_change("offline.auc", &after).await;
    assert_eq!(restored, before);
    let url = browser.client.current_url().await.expect("url").to_string();
    assert!(!url.contains("model="), "{url}");

    // A bad value in a link: a notice, and the default for that knob only.
    browser
        .client
        .goto(&format!("{base}?model=forest&trees=50&step=model"))
        .await
        .expect("page loads");
    let notice = browser.wait_text("[data-testid=notices]").await;
    assert!(
        notice.contains("forest") && notice.contains("logistic"),
        "{notice}"
    );
    let shown = browser
        .client
        .find(Locator::Css("select[data-knob=model]"))
        .await
        .expect("the model knob")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(shown.as_deref(), Some("logistic"));
    browser.screenshot("model-step").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_opens_the_other_study_and_runs_it() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser
        .client
        .goto(&format!("{base}?study=harmful-content&step=data"))
        .await
        .expect("page loads");
    let studies = casebook::bundled_studies().expect("bundled studies");
    let content = studies
        .iter()
        .find(|s| s.meta.id == "harmful-content")
        .expect("the content study is bundled");
    assert_eq!(browser.wait_text("h1").await, content.meta.title);
    let heading = browser.wait_text("#step-heading").await;
    assert_eq!(heading, "Step 4: Data collection and labels");
    let pr_auc: f64 = browser
        .card_after_run("offline.pr_auc")
        .await
        .parse()
        .expect("a number");
    assert!(pr_auc > 0.1 && pr_auc < 1.0, "PR-AUC {pr_auc}");
    browser.screenshot("content-data-step").await;
    browser.close().await;
}

/// The model step's charts are drawn from the run on canvases sized for the
/// screen, say the number the cards show, and redraw when a knob changes.
#[tokio::test(flavor = "multi_thread")]
async fn charts_draw_the_run_and_redraw_when_a_knob_changes() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser
        .client
        .goto(&format!("{base}?step=model"))
        .await
        .expect("page loads");
    let auc = browser.card_after_run("offline.auc").await;
    let study = &casebook::bundled_studies().expect("bundled studies")[0];
    let step = study
        .steps
        .iter()
        .find(|s| s.step == DesignStep::ModelAndOfflineEvaluation)
        .expect("a model step");
    let before = browser.drawn_charts(&step.charts).await;
    let roc = &before["roc"];
    assert_eq!(roc.caption, format!("ROC-AUC {auc}"));
    for (id, chart) in &before {
        // Drawn at the element's size times the pixel ratio, with ink on it.
        assert!(chart.width >= 300 && chart.height >= 180, "{id}: {chart:?}");
        assert!(chart.inked > 0.02, "{id} is blank: {chart:?}");
    }
    browser
        .client
        .execute("document.querySelector('.charts').scrollIntoView()", vec![])
        .await
        .expect("scroll");
    browser.screenshot("model-step-charts").await;

    // The exports hold the numbers on screen.
    let csv = browser.fetch_link("[data-testid=export-csv]").await;
    let row = csv
        .lines()
        .find_map(|l| l.strip_prefix("offline.auc,"))
        .expect("an offline.auc row");
    let exported: f64 = row.parse().expect("a number");
    assert_eq!(format!("{exported:.4}"), auc);
    let json: serde_json::Value =
        serde_json::from_str(&browser.fetch_link("[data-testid=export-json]").await)
            .expect("the report is JSON");
    assert_eq!(json["study"], "feed-ranking");
    assert_eq!(json["design"]["model"], "logistic");
    assert_eq!(json["metrics"]["offline.auc"], exported);
    let png = browser
        .client
        .execute(
            "const a = document.querySelector('[data-chart=roc] [data-testid=export-png]');
             a.click();
             return [a.getAttribute('href').slice(0, 22), a.getAttribute('download')];",
            vec![],
        )
        .await
        .expect("the PNG link");
    assert_eq!(png[0], "data:image/png;base64,");
    assert_eq!(png[1], "casebook-feed-ranking-seed1-roc.png");

    let select = browser
        .client
        .find(Locator::Css("select[data-knob=model]"))
        .await
        .expect("the model knob");
    select.select_by_value("gbdt").await.expect("choose GBDT");
    let auc_after = browser.wait_for_card_change("offline.auc", &auc).await;
    let after = browser.drawn_charts(&step.charts).await;
    assert_eq!(after["roc"].caption, format!("ROC-AUC {auc_after}"));
    for (id, chart) in &after {
        assert_ne!(chart.pixels, before[id].pixels, "{id} was not redrawn");
    }
    browser.close().await;
}

/// Compare mode: pin the design as A, change a knob to make B; the cards
/// say the change against A, every chart shows both, the pin lives in the
/// URL (a fresh page opened on it shows the same), and unpinning goes back
/// to comparing with the default.
#[tokio::test(flavor = "multi_thread")]
async fn compare_mode_pins_a_design_and_shows_both() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser
        .client
        .goto(&format!("{base}?step=model"))
        .await
        .expect("page loads");
    let auc_a = browser.card_after_run("offline.auc").await;
    browser
        .client
        .find(Locator::Css("[data-testid=pin]"))
        .await
        .expect("the pin button")
        .click()
        .await
        .expect("pin");
    assert_eq!(
        browser.wait_text("[data-testid=pin-description]").await,
        "the default design"
    );
    browser
        .client
        .find(Locator::Css("select[data-knob=model]"))
        .await
        .expect("the model knob")
        .select_by_value("popularity")
        .await
        .expect("choose popularity");
    let auc_b = browser.wait_for_card_change("offline.auc", &auc_a).await;
    let delta = browser.text("[data-metric='offline.auc'] .delta").await;
    assert!(delta.contains("vs A") && delta.contains("worse"), "{delta}");
    let study = &casebook::bundled_studies().expect("bundled studies")[0];
    let charts = &study
        .steps
        .iter()
        .find(|s| s.step == DesignStep::ModelAndOfflineEvaluation)
        .expect("a model step")
        .charts;
    let expected = format!("B: ROC-AUC {auc_b}; A: ROC-AUC {auc_a}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while browser.drawn_charts(charts).await["roc"].caption != expected {
        assert!(
            Instant::now() < deadline,
            "the ROC caption never became {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .client
        .execute("document.querySelector('.charts').scrollIntoView()", vec![])
        .await
        .expect("scroll");
    browser.screenshot("compare-mode").await;
    let url = browser.client.current_url().await.expect("url").to_string();
    assert!(url.contains("pin=&") || url.ends_with("pin="), "{url}");
    assert!(url.contains("model=popularity"), "{url}");

    // The link alone reproduces the comparison.
    browser.client.goto(&url).await.expect("page loads");
    assert_eq!(browser.card_after_run("offline.auc").await, auc_b);
    let deadline = Instant::now() + Duration::from_secs(30);
    while browser.drawn_charts(charts).await["roc"].caption != expected {
        assert!(
            Instant::now() < deadline,
            "the linked ROC caption never became {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    browser
        .client
        .find(Locator::Css("[data-testid=unpin]"))
        .await
        .expect("the unpin button")
        .click()
        .await
        .expect("unpin");
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=pin]"))
        .await
        .expect("the pin button is back");
    let url = browser.client.current_url().await.expect("url").to_string();
    assert!(!url.contains("pin="), "{url}");
    browser.close().await;
}

/// Embed mode: "Copy embed code" writes an iframe snippet for the step on
/// screen; in a host page the iframe shows only that step's knobs, charts
/// and cards, runs the engine, links to the full simulator and leaves the
/// host's history alone. `panels=` and `knobs=` choose what shows.
#[tokio::test(flavor = "multi_thread")]
async fn embed_mode_shows_a_compact_view_in_an_iframe() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser.goto(&format!("{base}?step=model&model=gbdt")).await;
    let auc = browser.card_after_run("offline.auc").await;
    browser.click("[data-testid=embed-button]").await;
    browser.wait_text("[data-testid=embed-code]").await;
    let code = browser
        .eval(
            "return document.querySelector('[data-testid=embed-code]').value;",
            vec![],
        )
        .await;
    let code = code.as_str().unwrap_or_default().to_owned();
    let expected_src = format!(
        "{base}?study=feed-ranking&amp;step=model&amp;model=gbdt&amp;embed=1&amp;\
         panels=knobs%2Ccharts%2Ccards&amp;knobs="
    );
    assert!(
        code.starts_with(&format!("<iframe src=\"{expected_src}")),
        "{code}"
    );
    assert!(code.contains("title=\"Casebook: Feed ranking\""), "{code}");

    // A host page with the snippet in it.
    browser
        .goto(&format!("{base}fixtures/page/host.html"))
        .await;
    let history_before = browser
        .eval(
            "document.body.innerHTML = arguments[0]; return history.length;",
            vec![serde_json::Value::String(code.clone())],
        )
        .await;
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("iframe"))
        .await
        .expect("the iframe");
    browser
        .client
        .enter_frame(0)
        .await
        .expect("into the iframe");
    assert_eq!(browser.card_after_run("offline.auc").await, auc);
    let steps = browser
        .client
        .find_all(Locator::Css("[data-testid=step]"))
        .await
        .expect("query");
    assert!(
        steps.is_empty(),
        "the embedded view shows the step navigator"
    );
    let chrome = browser.eval("return [getComputedStyle(document.querySelector('.topbar')).display,
                     document.querySelectorAll('[data-testid=claim], [data-testid=pin], \
                       [data-testid=export-json], [data-testid=embed-button]').length,
                     [...document.querySelectorAll('[data-knob]')].map(e => e.dataset.knob).join(',')];", vec![]).await;
    let study = &casebook::bundled_studies().expect("bundled studies")[0];
    let step = study
        .steps
        .iter()
        .find(|s| s.step == DesignStep::ModelAndOfflineEvaluation)
        .expect("a model step");
    let knob_ids: Vec<&str> = step.knobs.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(chrome[0], "none", "the top bar shows");
    assert_eq!(chrome[1], 0, "claims, compare, exports or embed code show");
    assert_eq!(chrome[2], knob_ids.join(","));
    let drawn = browser.drawn_charts(&step.charts).await;
    assert!(
        drawn["roc"].caption.contains(&auc),
        "{:?}",
        drawn["roc"].caption
    );
    let full = browser
        .eval(
            "return document.querySelector('[data-testid=open-full]').href;",
            vec![],
        )
        .await;
    assert_eq!(
        full,
        format!("{base}?study=feed-ranking&step=model&model=gbdt")
    );
    browser.screenshot("embed-mode").await;

    // A knob reruns the engine; the host page's history does not grow.
    browser.choose("model", "popularity").await;
    browser.wait_for_card_change("offline.auc", &auc).await;
    browser
        .client
        .enter_parent_frame()
        .await
        .expect("back to the host");
    let history_after = browser.eval("return history.length;", vec![]).await;
    assert_eq!(history_before, history_after);

    browser.close().await;
}

/// Embed mode's `panels=` and `knobs=` choose what shows; a bad panel gets
/// a notice.
#[tokio::test(flavor = "multi_thread")]
async fn embed_mode_shows_the_panels_and_knobs_the_link_names() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser
        .goto(&format!(
            "{base}?step=model&embed=1&panels=knobs,cards,sidebar&knobs=quantization,model"
        ))
        .await;
    browser.card_after_run("offline.auc").await;
    let shown = browser.eval("return [[...document.querySelectorAll('[data-knob]')].map(e => e.dataset.knob).join(','),
                     document.querySelectorAll('[data-chart]').length,
                     document.querySelectorAll('.narrative').length];", vec![]).await;
    assert_eq!(shown[0], "quantization,model");
    assert_eq!(shown[1], 0, "charts show");
    assert_eq!(shown[2], 0, "the narrative shows");
    let notices = browser.text("[data-testid=notices]").await;
    assert!(notices.contains("sidebar"), "{notices}");
    browser.close().await;
}

/// A study file brought by the user: a bad one shows the field that is
/// wrong and keeps the study on screen; a good one opens and runs, from
/// disk or from a `case_url=` link that also carries its knobs; an address
/// that does not answer says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_study_file_from_disk_or_an_address_opens_and_runs() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser.client.goto(&base).await.expect("page loads");
    let studies = casebook::bundled_studies().expect("bundled studies");
    assert_eq!(browser.wait_text("h1").await, studies[0].meta.title);
    browser.click("[data-testid=library-toggle]").await;
    let cards = browser
        .client
        .find_all(Locator::Css("[data-testid=study-card]"))
        .await
        .expect("study cards");
    assert_eq!(cards.len(), studies.len());

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/studies");
    let pick = |name: &str| fixtures.join(name).display().to_string();
    browser
        .client
        .find(Locator::Css("[data-testid=study-file]"))
        .await
        .expect("the file input")
        .send_keys(&pick("bad-unknown-knob.toml"))
        .await
        .expect("pick a file");
    let error = browser.wait_text("[data-testid=study-error]").await;
    assert!(
        error.contains("bad-unknown-knob.toml") && error.contains("steps.model.knobs.colour.id"),
        "{error}"
    );
    assert_eq!(browser.text("h1").await, studies[0].meta.title);

    browser
        .client
        .find(Locator::Css("[data-testid=study-file]"))
        .await
        .expect("the file input")
        .send_keys(&pick("valid.toml"))
        .await
        .expect("pick a file");
    let deadline = Instant::now() + Duration::from_secs(30);
    while browser.text_if_shown("h1").await != "Tiny" {
        assert!(Instant::now() < deadline, "the brought study never opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let auc: f64 = browser
        .card_after_run("offline.auc")
        .await
        .parse()
        .expect("a number");
    assert!(auc > 0.5 && auc < 1.0, "{auc}");
    browser.screenshot("own-study").await;

    // A link to a study file, with a knob and a step.
    let link = format!(
        "{base}?case_url=/fixtures/studies/valid.toml&study=tiny&step=model&model=popularity"
    );
    browser.client.goto(&link).await.expect("page loads");
    let deadline = Instant::now() + Duration::from_secs(30);
    while browser.text_if_shown("h1").await != "Tiny" {
        assert!(Instant::now() < deadline, "the linked study never opened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = browser
        .client
        .find(Locator::Css("select[data-knob=model]"))
        .await
        .expect("the model knob")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(shown.as_deref(), Some("popularity"));
    browser.card_after_run("offline.auc").await;
    let url = browser.client.current_url().await.expect("url").to_string();
    assert!(
        url.contains("case_url=") && url.contains("model=popularity"),
        "{url}"
    );

    // An address that does not answer: a notice, and the default study.
    browser
        .client
        .goto(&format!("{base}?case_url=/fixtures/studies/missing.toml"))
        .await
        .expect("page loads");
    let notice = browser.wait_text("[data-testid=notices]").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut notice = notice;
    while !notice.contains("Could not load") {
        assert!(Instant::now() < deadline, "no failure notice: {notice}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        notice = browser.text("[data-testid=notices]").await;
    }
    assert!(notice.contains("404"), "{notice}");
    assert_eq!(browser.text("h1").await, studies[0].meta.title);
    browser.close().await;
}

/// A feed-ranking run with the MLP trains for seconds; the engine
/// runs in its worker, so all the while the page answers at once: the step
/// navigator switches steps while the status still says "Running…", and a
/// timer set on the page fires on time.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_run_leaves_the_page_responsive() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser
        .client
        .goto(&format!("{base}?model=mlp&step=model"))
        .await
        .expect("page loads");
    // The worker is up (its "ready" names the backend), so the run is on.
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=backend][data-ready=true]"))
        .await
        .expect("the engine's worker starts");

    let steps = browser
        .client
        .find_all(Locator::Css("[data-testid=step] button"))
        .await
        .expect("the step buttons");
    assert_eq!(steps.len(), DesignStep::ALL.len());
    let mut answered_while_running = 0;
    let mut stages_seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_mins(3);
    for (i, button) in steps.iter().enumerate().cycle() {
        let asked = Instant::now();
        button.click().await.expect("click a step");
        // What the page shows right after the click, and how long a timer
        // set now takes to fire.
        let seen = browser
            .client
            .execute(
                "const start = performance.now();
                 const state = document.querySelector('[data-testid=status]').dataset.state;
                 const heading = document.querySelector('#step-heading').textContent;
                 const stage = document.querySelector('[data-testid=stage]');
                 const shown = stage ? stage.textContent : '';
                 return new Promise((resolve) => setTimeout(
                     () => resolve([state, heading, performance.now() - start, shown]), 0));",
                vec![],
            )
            .await
            .expect("the page runs a script");
        let took = asked.elapsed();
        let state = seen[0].as_str().expect("a state");
        if state != "running" {
            assert_eq!(state, "done", "the run failed: {seen:?}");
            break;
        }
        let step = DesignStep::ALL[i];
        assert_eq!(
            seen[1].as_str(),
            Some(format!("Step {}: {}", step.number(), step.title()).as_str()),
            "the click on step {} showed {seen:?}",
            step.number()
        );
        let timer_ms = seen[2].as_f64().expect("a delay");
        assert!(
            timer_ms < 200.0,
            "a timer took {timer_ms} ms during the run"
        );
        assert!(
            took < Duration::from_secs(1),
            "the page took {took:?} to answer a click during the run"
        );
        answered_while_running += 1;
        if let Some(stage) = seen[3].as_str().filter(|s| !s.is_empty()) {
            stages_seen.insert(stage.to_owned());
        }
        assert!(Instant::now() < deadline, "the run never finished");
    }
    assert!(
        answered_while_running >= 3,
        "only {answered_while_running} clicks were answered while the run lasted"
    );
    // The seconds-long training showed a progress bar with its stage.
    let training = format!(
        "your design: {}…",
        casebook::engine::pipeline::Stage::Training.label()
    );
    assert!(stages_seen.contains(&training), "{stages_seen:?}");

    // The run's numbers arrive, against the default design's.
    let model_step = DesignStep::ALL
        .iter()
        .position(|s| s.id() == "model")
        .expect("a model step");
    steps[model_step]
        .click()
        .await
        .expect("back to the model step");
    let auc: f64 = browser
        .card_after_run("offline.auc")
        .await
        .parse()
        .expect("a number");
    assert!(auc > 0.6 && auc < 0.95, "ROC-AUC {auc}");
    let delta = browser.text("[data-metric='offline.auc'] .delta").await;
    assert!(delta.contains("vs default"), "delta was {delta:?}");
    browser.close().await;
}

/// A change made while a slow run is on replaces it: the answer to the old
/// design is never shown, and the first finished state is the new design's.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_during_a_run_replaces_it() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser
        .client
        .goto(&format!("{base}?model=mlp&step=model"))
        .await
        .expect("page loads");
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=backend][data-ready=true]"))
        .await
        .expect("the engine's worker starts");
    browser
        .client
        .find(Locator::Css("select[data-knob=model]"))
        .await
        .expect("the model knob")
        .select_by_value("popularity")
        .await
        .expect("choose popularity");
    let deadline = Instant::now() + Duration::from_mins(2);
    let delta = loop {
        let seen = browser
            .client
            .execute(
                "const card = document.querySelector(\"[data-metric='offline.auc'] .delta\");
                 return [document.querySelector('[data-testid=status]').dataset.state,
                         card ? card.textContent : null];",
                vec![],
            )
            .await
            .expect("the page runs a script");
        match seen[0].as_str() {
            Some("done") => break seen[1].as_str().expect("the ROC-AUC card").to_owned(),
            Some("running") => {}
            other => panic!("the status was {other:?}"),
        }
        assert!(Instant::now() < deadline, "the run never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Popularity ranks far worse than the default logistic regression; the
    // MLP would not.
    let change: f64 = delta
        .split_whitespace()
        .next()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("a change against the default: {delta:?}"));
    assert!(change < -0.05, "the first result shown was {delta:?}");
    let url = browser.client.current_url().await.expect("url").to_string();
    assert!(url.contains("model=popularity"), "{url}");
    browser.close().await;
}

/// A claim is checked by the engine's worker and its measured change shown.
#[tokio::test(flavor = "multi_thread")]
async fn a_claim_check_shows_the_measured_change() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    browser
        .client
        .goto(&format!("{base}?step=serving"))
        .await
        .expect("page loads");
    browser.card_after_run("serving.p50_ms").await;
    let claim = browser
        .client
        .find(Locator::Css("[data-testid=claim]"))
        .await
        .expect("a claim of the serving step");
    claim
        .find(Locator::Css("button"))
        .await
        .expect("its button")
        .click()
        .await
        .expect("check it");
    let deadline = Instant::now() + Duration::from_mins(1);
    let result = loop {
        let text = claim
            .find(Locator::Css(".claim-result"))
            .await
            .expect("its result")
            .text()
            .await
            .expect("result text");
        if text != "Not checked yet" && text != "Checking…" {
            break text;
        }
        assert!(Instant::now() < deadline, "the check never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The numbers the engine measures natively, rounded as the cards round.
    let study = &casebook::bundled_studies().expect("bundled studies")[0];
    let first = study
        .claims
        .iter()
        .find(|c| c.step == DesignStep::PredictionService)
        .expect("a claim of the serving step");
    let measured = casebook::Runner::default()
        .check(study, first, 1)
        .expect("the claim runs natively");
    assert!(measured.holds, "{measured:?}");
    assert_eq!(
        result,
        format!(
            "Holds at seed 1: {} → {} ({})",
            casebook::charts::card_number(measured.baseline),
            casebook::charts::card_number(measured.value),
            casebook::charts::card_delta(measured.delta)
        )
    );
    browser.close().await;
}

/// A deployment that lost the engine's WebAssembly: the page says so in the
/// status, keeps the design from the link, and still shows the study.
#[tokio::test(flavor = "multi_thread")]
async fn an_engine_that_cannot_start_is_reported() {
    let browser = Browser::start(false).await;
    let url = format!(
        "http://{}{NO_ENGINE_PATH}?model=gbdt&step=model",
        server_addr()
    );
    browser.client.goto(&url).await.expect("page loads");
    let status = browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("[data-testid=status][data-state=failed]"))
        .await
        .expect("the status says the run failed")
        .text()
        .await
        .expect("status text");
    assert!(
        status.contains("The engine could not start") && status.contains("WebAssembly"),
        "{status}"
    );
    assert_eq!(browser.text("[data-testid=backend]").await, "unavailable");
    let heading = browser.wait_text("#step-heading").await;
    assert_eq!(heading, "Step 6: Model development and offline evaluation");
    let shown = browser
        .client
        .find(Locator::Css("select[data-knob=model]"))
        .await
        .expect("the model knob")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(shown.as_deref(), Some("gbdt"));
    let url = browser.client.current_url().await.expect("url").to_string();
    assert!(url.contains("model=gbdt"), "{url}");
    let panics = browser
        .client
        .find_all(Locator::Id("casebook-error"))
        .await
        .expect("query");
    assert!(panics.is_empty(), "the error panel is showing");
    browser.screenshot("engine-cannot-start").await;
    browser.close().await;
}

/// Every step of both studies, at a desktop width and on a 360-pixel-wide
/// phone screen: its charts drawn, the page no wider than the screen (only
/// the step strip scrolls sideways, as it is meant to), every control named
/// for screen readers; each kept as two screenshots, of the step and of its
/// charts (`target/page-screenshots/{desktop,phone}-<study>-<n>-<step>[-charts].png`).
#[tokio::test(flavor = "multi_thread")]
async fn every_step_fits_a_phone_and_names_its_controls() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    for study in casebook::bundled_studies().expect("bundled studies") {
        let id = &study.meta.id;
        browser.goto(&format!("{base}?study={id}")).await;
        browser.wait_for_run().await;
        for (width, name) in [(1200, "desktop"), (360, "phone")] {
            browser
                .client
                .set_window_size(width, 900)
                .await
                .expect("the window resizes");
            for step in &study.steps {
                let n = step.step.number();
                browser
                    .click(&format!("[data-testid=step]:nth-child({n}) button"))
                    .await;
                // A step that shows stages the first run left out runs them.
                browser.wait_for_run().await;
                browser.drawn_charts(&step.charts).await;
                let at = format!("{id}, step {n} at {width} px");
                for key in study.world.cards_for(step.step) {
                    let cards = browser
                        .client
                        .find_all(Locator::Css(&format!("[data-metric='{key}']")))
                        .await
                        .expect("query");
                    assert_eq!(cards.len(), 1, "{at}: the card {key}");
                }
                let [page, screen] = browser.page_and_screen_width().await;
                if width == 360 {
                    assert!(screen <= 400.0, "{at}: the screen is {screen} px wide");
                    assert!(page <= screen, "{at}: the page is {page} px wide");
                    let rows = browser
                        .eval(
                            "return new Set(Array.from(document.querySelectorAll('[data-testid=step]'),
                               e => Math.round(e.getBoundingClientRect().top))).size;",
                            vec![],
                        )
                        .await;
                    assert_eq!(rows, 1, "{at}: the steps are not one strip");
                }
                let unnamed = browser.unnamed_controls().await;
                assert!(
                    unnamed.is_empty(),
                    "{at}: controls without a name: {unnamed:?}"
                );
                for (part, css) in [("", ".step-panel"), ("-charts", ".charts")] {
                    let shown = browser
                        .eval(
                            "const e = document.querySelector(arguments[0]);
                             if (e) e.scrollIntoView();
                             return !!e;",
                            vec![serde_json::Value::String(css.to_owned())],
                        )
                        .await;
                    if shown == true {
                        browser
                            .screenshot(&format!("{name}-{id}-{n}-{}{part}", step.step.id()))
                            .await;
                    }
                }
            }
        }
    }
    browser.close().await;
}

/// From the keyboard alone, on a phone screen: Tab reaches the step
/// navigator, Enter opens the model step, Tab reaches its first knob, and an
/// arrow key or the space bar changes it; the engine reruns and the URL
/// holds the new value.
#[tokio::test(flavor = "multi_thread")]
async fn the_keyboard_alone_opens_a_step_and_changes_a_knob() {
    let browser = Browser::start(false).await;
    browser
        .client
        .set_window_size(360, 900)
        .await
        .expect("the window resizes");
    browser.goto(&format!("http://{}/", server_addr())).await;
    let auc = browser.card_after_run("offline.auc").await;
    let model = DesignStep::ModelAndOfflineEvaluation;
    let focused = browser
        .tab_until(&format!(
            "a.closest('[data-testid=step]') && a.textContent.includes({:?})",
            model.title()
        ))
        .await;
    assert!(focused.contains(model.title()), "{focused}");
    browser.press(Key::Enter).await;
    let current = browser.text("[data-testid=step] [aria-current=step]").await;
    assert!(
        current.contains(model.title()),
        "the current step is {current}"
    );

    let knob = browser.tab_until("a.hasAttribute('data-knob')").await;
    let read = "const a = document.activeElement;
                return [a.getAttribute('data-knob'), a.type, String(a.type === 'checkbox' ? a.checked : a.value)];";
    let before = browser.eval(read, vec![]).await;
    let kind = before[1].as_str().unwrap_or_default().to_owned();
    browser
        .press(if kind == "checkbox" {
            Key::Space
        } else {
            Key::Down
        })
        .await;
    let after = browser.eval(read, vec![]).await;
    assert_eq!(after[0], before[0], "the focus stayed on {knob}");
    assert_ne!(
        after[2], before[2],
        "{knob} ({kind}) changed from the keyboard"
    );
    let changed = browser.wait_for_card_change("offline.auc", &auc).await;
    assert_ne!(changed, auc);
    let url = browser.client.current_url().await.expect("the URL");
    let (id, value) = (
        after[0].as_str().unwrap_or_default(),
        after[2].as_str().unwrap_or_default(),
    );
    assert!(
        url.query_pairs().any(|(k, v)| k == id && v == value),
        "{url} holds {id}={value}"
    );
    browser.close().await;
}

/// The page benchmark (`scripts/bench-page.sh`, feature `page-bench`, not
/// run by CI): on the CPU backend, opens every step of every bundled study
/// and changes each of its knobs through its control (every other value of
/// a choice, a toggle flipped, a slider to a value near its top), then back
/// to the default, reading each update's `casebook:update` measure, and each
/// navigation's `casebook:first-charts`. Knobs of steps 7 and 8 (serving and
/// the A/B test) do not retrain the model; the others do (step 9's retrain
/// the monitored models).
#[cfg(feature = "page-bench")]
#[tokio::test(flavor = "multi_thread")]
async fn page_benchmark() {
    let browser = Browser::start(false).await;
    let base = format!("http://{}/", server_addr());
    let (mut retrain, mut no_retrain, mut first) = (Vec::new(), Vec::new(), Vec::new());
    for study in casebook::bundled_studies().expect("bundled studies") {
        for step in &study.steps {
            let url = format!("{base}?study={}&step={}", study.meta.id, step.step.id());
            browser.client.goto(&url).await.expect("page loads");
            let (ms, _) = browser.next_measure("casebook:first-charts", 0).await;
            println!(
                "{} step {}: first charts {ms:.0} ms",
                study.meta.id,
                step.step.id()
            );
            first.push(ms);
            let trains = !matches!(
                step.step,
                DesignStep::PredictionService | DesignStep::OnlineTesting
            );
            for knob in &step.knobs {
                let mut values = alternatives(knob);
                values.push(knob.default.to_string());
                for value in values {
                    let seen = browser.measure_count("casebook:update").await;
                    browser.set_knob(&knob.id, &value).await;
                    let (ms, named) = browser.next_measure("casebook:update", seen).await;
                    assert_eq!(named, knob.id, "the measure names the knob");
                    println!("{} {}={value}: {ms:.0} ms", study.meta.id, knob.id);
                    if trains {
                        &mut retrain
                    } else {
                        &mut no_retrain
                    }
                    .push(ms);
                }
            }
        }
    }
    let report = format!(
        "casebook:update, knobs that do not retrain: {}\n\
         casebook:update, knobs that retrain: {}\n\
         casebook:first-charts: {}\n",
        percentiles(&mut no_retrain),
        percentiles(&mut retrain),
        percentiles(&mut first)
    );
    println!("{report}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/page-bench.txt");
    std::fs::write(out, report).expect("write the results");
    browser.close().await;
}

/// The values a benchmark sets a knob to besides its default.
#[cfg(feature = "page-bench")]
fn alternatives(knob: &casebook::Knob) -> Vec<String> {
    use casebook::{KnobKind, KnobValue};
    match (&knob.kind, &knob.default) {
        (KnobKind::Choice { values }, _) => values
            .iter()
            .filter(|v| KnobValue::Choice((*v).clone()) != knob.default)
            .cloned()
            .collect(),
        (KnobKind::Toggle, KnobValue::Toggle(on)) => vec![(!on).to_string()],
        (KnobKind::Slider { min, max, step }, KnobValue::Number(x)) => {
            // Three quarters of the way from the default to the top, on a
            // step (or towards the bottom when the default is the top).
            let target = if *x < *max {
                x + 0.75 * (max - x)
            } else {
                x - 0.75 * (x - min)
            };
            let snapped = min + ((target - min) / step).round() * step;
            vec![KnobValue::Number(snapped.clamp(*min, *max)).to_string()]
        }
        _ => Vec::new(),
    }
}

/// "p50 X ms, p95 Y ms over N updates".
#[cfg(feature = "page-bench")]
fn percentiles(samples: &mut [f64]) -> String {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len().max(1)) - 1;
        samples.get(i).copied().unwrap_or(f64::NAN)
    };
    format!(
        "p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms over {} updates",
        at(0.5),
        at(0.95),
        at(1.0),
        samples.len()
    )
}

/// A chart as the page drew it.
#[derive(Debug)]
struct DrawnChart {
    caption: String,
    width: u32,
    height: u32,
    /// Share of the canvas's pixels that are not the white background.
    inked: f64,
    /// A hash of the canvas's pixels.
    pixels: u64,
}

struct Browser {
    client: Client,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver and a Chromium session. On a loaded two-core
    /// machine chromedriver can open its port and still reset the first
    /// connection, so a session that fails to start is tried again, with a
    /// fresh driver, up to three times.
    async fn start(webgpu: bool) -> Browser {
        let mut last = String::new();
        for _ in 0..3 {
            match Browser::try_start(webgpu).await {
                Ok(browser) => return browser,
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("chromedriver starts a Chromium session: {last}");
    }

    async fn try_start(webgpu: bool) -> Result<Browser, String> {
        let port = free_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is on PATH (run `make test`, which installs it)");
        wait_for_port(port);
        let profile = std::env::temp_dir().join(format!("casebook-chromium-{port}"));
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=1200,900".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        if webgpu {
            args.push("--enable-unsafe-webgpu".to_owned());
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({ "binary": chromium_binary(), "args": args }),
        );
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => Ok(Browser { client, driver }),
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                Err(format!("{e:?}"))
            }
        }
    }

    /// Opens `path` on the test server, checks everything that does not depend
    /// on the backend, and returns the backend label once the probe is done.
    async fn open_and_check(&self, path: &str) -> String {
        let url = format!("http://{}{path}", server_addr());
        self.client.goto(&url).await.expect("page loads");
        let badge = self
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("[data-testid=backend][data-ready=true]"))
            .await
            .expect("the app renders and finishes probing for WebGPU");

        let brand = self.text(".brand").await;
        assert_eq!(brand, "Casebook");
        let title = self.text("h1").await;
        let default_study = casebook::bundled_studies().expect("bundled studies")[0].clone();
        assert_eq!(title, default_study.meta.title);

        let steps = self
            .client
            .find_all(Locator::Css("[data-testid=step] .step-title"))
            .await
            .expect("step titles");
        let mut shown = Vec::new();
        for step in steps {
            shown.push(step.text().await.expect("step text"));
        }
        let expected: Vec<&str> = DesignStep::ALL.iter().map(|s| s.title()).collect();
        assert_eq!(shown, expected);

        let panics = self
            .client
            .find_all(Locator::Id("casebook-error"))
            .await
            .expect("query");
        assert!(panics.is_empty(), "the error panel is showing");
        badge.text().await.expect("badge text")
    }

    /// Waits until a run has finished.
    async fn wait_for_run(&self) {
        self.client
            .wait()
            .at_most(Duration::from_mins(1))
            .for_element(Locator::Css("[data-testid=status][data-state=done]"))
            .await
            .expect("the run finishes");
    }

    /// The page's width (what it would scroll to) and the screen's, in CSS pixels.
    async fn page_and_screen_width(&self) -> [f64; 2] {
        let read = self
            .eval(
                "const d = document.documentElement; return [d.scrollWidth, d.clientWidth];",
                vec![],
            )
            .await;
        [0, 1].map(|i| read[i].as_f64().unwrap_or(f64::NAN))
    }

    /// The controls on screen a screen reader has no name for: no
    /// `aria-label`, `aria-labelledby`, `<label>`, title, or (for buttons
    /// and links) text.
    async fn unnamed_controls(&self) -> Vec<String> {
        let list = self
            .eval(
                "const unnamed = [];
                 for (const el of document.querySelectorAll('input, select, textarea, button, a[href]')) {
                   if (el.getClientRects().length === 0) continue;
                   const by = (el.getAttribute('aria-labelledby') || '').split(' ')
                     .map(i => (document.getElementById(i) || {}).textContent || '').join('');
                   const name = [el.getAttribute('aria-label') || '', by,
                     Array.from(el.labels || []).map(l => l.textContent).join(''),
                     el.getAttribute('title') || '',
                     (el.tagName === 'BUTTON' || el.tagName === 'A') ? el.textContent : ''].join('').trim();
                   if (!name) unnamed.push(el.outerHTML.slice(0, 160));
                 }
                 return unnamed;",
                vec![],
            )
            .await;
        list.as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Presses `key` on whatever has the focus.
    async fn press(&self, key: Key) {
        let key: char = key.into();
        let actions = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(actions)
            .await
            .expect("the key press");
    }

    /// Presses Tab until the focused element `a` makes the JavaScript
    /// expression `test` true (at most 200 times); returns its outer HTML.
    async fn tab_until(&self, test: &str) -> String {
        let script = format!(
            "const a = document.activeElement; return ({test}) ? a.outerHTML.slice(0, 300) : null;"
        );
        for _ in 0..200 {
            self.press(Key::Tab).await;
            if let Some(html) = self.eval(&script, vec![]).await.as_str() {
                return html.to_owned();
            }
        }
        panic!("Tab never reached an element where {test}");
    }

    /// Waits for `css` to appear, then returns its text.
    async fn wait_text(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} appears: {e}"))
            .text()
            .await
            .expect("element text")
    }

    /// The value on `metric`'s card once a run has finished.
    async fn card_after_run(&self, metric: &str) -> String {
        self.client
            .wait()
            .at_most(Duration::from_mins(1))
            .for_element(Locator::Css("[data-testid=status][data-state=done]"))
            .await
            .expect("the run finishes");
        self.text(&format!(
            "[data-metric='{metric}'] [data-testid=card-value]"
        ))
        .await
    }

    /// Waits until `metric`'s card shows something other than `old` after a
    /// finished run, and returns it.
    async fn wait_for_card_change(&self, metric: &str, old: &str) -> String {
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            let done = self
                .client
                .find_all(Locator::Css("[data-testid=status][data-state=done]"))
                .await
                .is_ok_and(|v| !v.is_empty());
            if done {
                let css = format!("[data-metric='{metric}'] [data-testid=card-value]");
                if let Ok(el) = self.client.find(Locator::Css(&css)).await
                    && let Ok(text) = el.text().await
                    && text != old
                {
                    return text;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{metric} never changed from {old}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for every chart in `charts` to be drawn after a finished run,
    /// and reads each one's caption and canvas.
    async fn drawn_charts(&self, charts: &[casebook::Chart]) -> BTreeMap<String, DrawnChart> {
        let mut out = BTreeMap::new();
        for chart in charts {
            let css = format!("[data-chart={}][data-drawn=true]", chart.id());
            self.client
                .wait()
                .at_most(Duration::from_secs(30))
                .for_element(Locator::Css(&css))
                .await
                .unwrap_or_else(|e| panic!("{css} appears: {e}"));
            let read = self
                .client
                .execute(
                    "const f = document.querySelector(arguments[0]);
                     const c = f.querySelector('canvas');
                     const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                     let inked = 0, hash = 0;
                     for (let i = 0; i < d.length; i += 4) {
                       if (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235) inked++;
                       hash = (hash * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
                     }
                     return [f.querySelector('[data-testid=chart-summary]').textContent,
                             c.width, c.height, inked / (d.length / 4), hash];",
                    vec![serde_json::Value::String(format!(
                        "[data-chart={}]",
                        chart.id()
                    ))],
                )
                .await
                .expect("the canvas reads back");
            let field = |i: usize| read[i].as_f64().unwrap_or(f64::NAN);
            out.insert(
                chart.id().to_owned(),
                DrawnChart {
                    caption: read[0].as_str().unwrap_or_default().to_owned(),
                    width: field(1) as u32,
                    height: field(2) as u32,
                    inked: field(3),
                    pixels: field(4) as u64,
                },
            );
        }
        out
    }

    /// How many `name` measures the page has recorded.
    #[cfg(feature = "page-bench")]
    async fn measure_count(&self, name: &str) -> usize {
        let count = self
            .client
            .execute(
                "return performance.getEntriesByName(arguments[0]).length;",
                vec![serde_json::Value::String(name.to_owned())],
            )
            .await
            .expect("performance entries");
        count.as_u64().unwrap_or(0) as usize
    }

    /// Waits for a `name` measure beyond the first `seen`, and returns its
    /// duration and the knob its detail names.
    #[cfg(feature = "page-bench")]
    async fn next_measure(&self, name: &str, seen: usize) -> (f64, String) {
        let deadline = Instant::now() + Duration::from_mins(2);
        loop {
            let entry = self
                .client
                .execute(
                    "const all = performance.getEntriesByName(arguments[0]);
                     if (all.length <= arguments[1]) return null;
                     const m = all[all.length - 1];
                     return [m.duration, (m.detail && m.detail.knob) || ''];",
                    vec![
                        serde_json::Value::String(name.to_owned()),
                        serde_json::Value::from(seen),
                    ],
                )
                .await
                .expect("performance entries");
            if let Some(pair) = entry.as_array() {
                let ms = pair[0].as_f64().unwrap_or(f64::NAN);
                return (ms, pair[1].as_str().unwrap_or_default().to_owned());
            }
            assert!(Instant::now() < deadline, "no new {name} measure");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sets knob `id` to `value` through its control, as a person would.
    #[cfg(feature = "page-bench")]
    async fn set_knob(&self, id: &str, value: &str) {
        self.client
            .execute(
                "const el = document.querySelector(`[data-knob='${arguments[0]}']`);
                 if (el.type === 'checkbox') { el.checked = arguments[1] === 'true'; }
                 else { el.value = arguments[1]; }
                 el.dispatchEvent(new Event('change', { bubbles: true }));",
                vec![
                    serde_json::Value::String(id.to_owned()),
                    serde_json::Value::String(value.to_owned()),
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("set {id}={value}: {e}"));
    }

    /// The text behind the link `css` points at.
    async fn fetch_link(&self, css: &str) -> String {
        // The exports show once the report is whole, a moment after the
        // step's own numbers.
        self.wait_text(css).await;
        let text = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(document.querySelector(arguments[0]).href)
                   .then(r => r.text()).then(done, e => done('failed: ' + e));",
                vec![serde_json::Value::String(css.to_owned())],
            )
            .await
            .unwrap_or_else(|e| panic!("{css} can be fetched: {e}"));
        text.as_str().unwrap_or_default().to_owned()
    }

    async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{url} loads: {e}"));
    }

    /// Chooses `value` in the select of knob `id`, as a person would.
    async fn choose(&self, id: &str, value: &str) {
        self.client
            .find(Locator::Css(&format!("select[data-knob={id}]")))
            .await
            .unwrap_or_else(|e| panic!("the {id} knob: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {id}={value}: {e}"));
    }

    /// Runs `script` in the page and returns its value.
    async fn eval(&self, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("the page runs a script: {e}"))
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} is on the page: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("{css} can be clicked: {e}"));
    }

    /// The text of `css`, or "" while it is not on the page (a study that
    /// is still loading shows no heading).
    async fn text_if_shown(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn text(&self, css: &str) -> String {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} is on the page: {e}"));
        el.text().await.expect("element text")
    }

    /// Saves a screenshot under `target/page-screenshots/` for people to look at.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/page-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
    }

    async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn chromium_binary() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

fn dist_dir() -> PathBuf {
    let dir = std::env::var_os("CASEBOOK_DIST").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("dist"),
        PathBuf::from,
    );
    assert!(
        dir.join("index.html").is_file(),
        "{} has no index.html: build it first with `trunk build --release`",
        dir.display()
    );
    dir
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A minimal static file server for `dist/`, shared by all tests: it serves the
/// folder at `/` and again under [`SUB_PATH`], like two different hosts would.
fn server_addr() -> &'static str {
    static ADDR: OnceLock<String> = OnceLock::new();
    ADDR.get_or_init(|| {
        let dist = dist_dir();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test server");
        let addr = listener.local_addr().expect("server address").to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let dist = dist.clone();
                std::thread::spawn(move || serve(stream, &dist));
            }
        });
        addr
    })
}

fn serve(mut stream: TcpStream, dist: &Path) {
    let mut request_line = String::new();
    let mut reader = BufReader::new(&stream);
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Drain the headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    if path.starts_with(NO_ENGINE_PATH) && path.ends_with("/worker_bg.wasm") {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let relative = path
        .strip_prefix(SUB_PATH)
        .or_else(|| path.strip_prefix(NO_ENGINE_PATH))
        .or_else(|| path.strip_prefix('/'))
        .unwrap_or("");
    let relative = if relative.is_empty() || relative.ends_with('/') {
        format!("{relative}index.html")
    } else {
        relative.to_owned()
    };
    // Study files for `case_url=` links, from the test fixtures.
    let file = match relative.strip_prefix("fixtures/") {
        Some(fixture) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(fixture),
        None => dist.join(&relative),
    };
    let safe = !relative.split('/').any(|part| part == "..");
    let (status, body, kind) = match std::fs::read(&file) {
        Ok(body) if safe => ("200 OK", body, content_type(&relative)),
        _ => ("404 Not Found", b"not found".to_vec(), "text/plain"),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}
