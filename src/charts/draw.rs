//! Drawing each chart with plotters, on any backend. Sizes are in CSS
//! pixels times [`Theme::scale`], so a canvas sized for the screen's pixel
//! ratio draws crisp lines and text.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use thiserror::Error;

#[cfg(test)]
use super::ChartData;
use super::{Series, describe};
use crate::engine::math::ln;
use crate::study::Chart;

/// Why a chart could not be drawn (the backend failed: a lost canvas).
#[derive(Debug, Error, Clone, PartialEq)]
#[error("the chart could not be drawn: {0}")]
pub struct ChartError(String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> ChartError {
        ChartError(e.to_string())
    }
}

/// Light or dark, following the page, and the device pixels per CSS pixel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Theme {
    pub dark: bool,
    pub scale: f64,
}

impl Default for Theme {
    fn default() -> Theme {
        Theme {
            dark: false,
            scale: 1.0,
        }
    }
}

/// The Okabe-Ito colours the charts use, readable with any common colour
/// vision deficiency.
const ORANGE: RGBColor = RGBColor(0xe6, 0x9f, 0x00);
const SKY_BLUE: RGBColor = RGBColor(0x56, 0xb4, 0xe9);
const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xb2);
const GREEN: RGBColor = RGBColor(0x00, 0x9e, 0x73);
const VERMILLION: RGBColor = RGBColor(0xd5, 0x5e, 0x00);

impl Theme {
    /// The page's surface colour (`--surface` in the stylesheet).
    fn background(self) -> RGBColor {
        if self.dark {
            RGBColor(0x1d, 0x20, 0x26)
        } else {
            WHITE
        }
    }

    fn ink(self) -> RGBColor {
        if self.dark {
            RGBColor(0xe8, 0xea, 0xee)
        } else {
            RGBColor(0x1d, 0x1f, 0x23)
        }
    }

    fn muted(self) -> RGBColor {
        if self.dark {
            RGBColor(0xa3, 0xaa, 0xb6)
        } else {
            RGBColor(0x5b, 0x62, 0x70)
        }
    }

    fn grid(self) -> RGBColor {
        if self.dark {
            RGBColor(0x34, 0x39, 0x44)
        } else {
            RGBColor(0xe6, 0xe8, 0xeb)
        }
    }

    /// The colour of the `i`th series: the current design, then the pinned
    /// one.
    fn series(self, i: usize) -> RGBColor {
        match (i % 2, self.dark) {
            (0, false) => BLUE,
            (0, true) => SKY_BLUE,
            _ => ORANGE,
        }
    }

    fn px(self, css: f64) -> u32 {
        (css * self.scale).round().max(1.0) as u32
    }

    fn font(self, css: f64) -> TextStyle<'static> {
        ("sans-serif", css * self.scale)
            .into_font()
            .color(&self.ink())
    }

    fn line(self, color: RGBColor, css: f64) -> ShapeStyle {
        color.stroke_width(self.px(css))
    }
}

type Area<DB> = DrawingArea<DB, Shift>;
type Plane<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws `chart` for `series` (the first is the current design) on `area`,
/// or says the run did not measure it.
///
/// # Errors
/// The backend failing.
pub fn draw<DB: DrawingBackend>(
    chart: Chart,
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    area.fill(&theme.background())?;
    // In compare mode one design may lack what the other has (a popularity
    // ranker trains no loss curve): the chart draws what there is.
    let measured = series.iter().any(|s| describe(chart, s.data).is_some());
    if measured {
        match chart {
            Chart::Roc => roc(series, area, theme)?,
            Chart::Pr => pr(series, area, theme)?,
            Chart::Calibration => calibration(series, area, theme)?,
            Chart::Loss => loss(series, area, theme)?,
            Chart::Confusion => confusion(series, area, theme)?,
            Chart::Scores => scores(series, area, theme)?,
            Chart::Latency => latency(series, area, theme)?,
            Chart::Throughput => throughput(series, area, theme)?,
            Chart::AbTest => ab_test(series, area, theme)?,
            Chart::Drift => drift(series, area, theme)?,
            Chart::Cost => cost(series, area, theme)?,
        }
    } else {
        let (w, h) = area.dim_in_pixel();
        area.draw(&Text::new(
            "Not measured for this design",
            (half(w), half(h)),
            theme.font(14.0).color(&theme.muted()).pos(CENTER),
        ))?;
    }
    area.present()?;
    Ok(())
}

/// Half of a pixel size, as a pixel coordinate.
fn half(pixels: u32) -> i32 {
    i32::try_from(pixels / 2).unwrap_or(i32::MAX)
}

const CENTER: Pos = Pos {
    h_pos: HPos::Center,
    v_pos: VPos::Center,
};

/// Every plane's margin around its drawing area, in CSS pixels.
const MARGIN: f64 = 10.0;
/// The height under a plane for its x axis's ticks and description, in CSS
/// pixels.
const X_LABEL_AREA: f64 = 42.0;

/// A plane with labelled axes and a light grid.
fn plane<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    theme: Theme,
    x: Range<f64>,
    y: Range<f64>,
    descriptions: (&str, &str),
) -> Result<Plane<'a, DB>, ChartError> {
    plane_counting(area, theme, x, y, descriptions, false)
}

/// A plane whose x axis counts (epochs, days) when `counting`.
fn plane_counting<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    theme: Theme,
    x: Range<f64>,
    y: Range<f64>,
    (x_desc, y_desc): (&str, &str),
    counting: bool,
) -> Result<Plane<'a, DB>, ChartError> {
    let mut chart = ChartBuilder::on(area)
        .margin(theme.px(MARGIN))
        .x_label_area_size(theme.px(X_LABEL_AREA))
        .y_label_area_size(theme.px(58.0))
        .build_cartesian_2d(x, y)?;
    let whole = |x: &f64| format!("{x:.0}");
    let mut mesh = chart.configure_mesh();
    if counting {
        mesh.x_label_formatter(&whole);
    }
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(6)
        .y_labels(6)
        .label_style(theme.font(11.0))
        .axis_desc_style(theme.font(12.0))
        .bold_line_style(theme.grid())
        .light_line_style(TRANSPARENT)
        .axis_style(theme.muted())
        .draw()?;
    Ok(chart)
}

fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Plane<'a, DB>,
    theme: Theme,
    position: SeriesLabelPosition,
) -> Result<(), ChartError> {
    chart
        .configure_series_labels()
        .position(position)
        .margin(theme.px(8.0))
        .background_style(theme.background().mix(0.85))
        .border_style(theme.grid())
        .label_font(theme.font(11.0))
        .draw()?;
    Ok(())
}

/// A legend swatch: a short line in `style`.
fn swatch(style: ShapeStyle, theme: Theme) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    let w = half(theme.px(36.0));
    move |(x, y)| PathElement::new(vec![(x, y), (x + w, y)], style)
}

/// A dashed reference line through `points`, with its legend entry.
fn reference<'a, DB: DrawingBackend + 'a>(
    chart: &mut Plane<'a, DB>,
    theme: Theme,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    label: &str,
) -> Result<(), ChartError> {
    let style = theme.line(color, 1.5);
    chart
        .draw_series(DashedLineSeries::new(
            points,
            theme.px(5.0),
            theme.px(4.0),
            style,
        ))?
        .label(label)
        .legend(swatch(style, theme));
    Ok(())
}

fn roc<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    let chance = vec![(0.0, 0.0), (1.0, 1.0)];
    curve_chart(
        series,
        area,
        theme,
        ("False positive rate", "True positive rate"),
        (chance, "Chance"),
        |c| {
            let at = c.operating_point().map(|[fpr, tpr, _]| (fpr, tpr));
            (&c.roc, format!("AUC {:.3}", c.auc), at)
        },
        SeriesLabelPosition::LowerRight,
    )
}

fn pr<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    // The precision of a random ranking: the first design's prevalence.
    let base = series
        .first()
        .and_then(|s| s.data.curves.as_ref())
        .map_or(0.0, |c| {
            let positives: u32 = c.scores_positive.iter().sum();
            let all = positives + c.scores_negative.iter().sum::<u32>();
            f64::from(positives) / f64::from(all.max(1))
        });
    curve_chart(
        series,
        area,
        theme,
        ("Recall", "Precision"),
        (vec![(0.0, base), (1.0, base)], "Prevalence"),
        |c| {
            let at = c
                .operating_point()
                .map(|[_, recall, precision]| (recall, precision));
            (&c.pr, format!("AP {:.3}", c.pr_auc), at)
        },
        SeriesLabelPosition::UpperRight,
    )
}

/// A curve per design on the unit square, with a dashed reference line:
/// `curve` picks a design's points, the number its legend quotes, and where
/// its threshold puts it (a ringed dot), if it has one.
fn curve_chart<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
    axes: (&str, &str),
    (line, name): (Vec<(f64, f64)>, &str),
    curve: impl Fn(&super::CurveData) -> (&Vec<[f64; 2]>, String, Option<(f64, f64)>),
    position: SeriesLabelPosition,
) -> Result<(), ChartError> {
    let mut chart = plane(area, theme, 0.0..1.0, 0.0..1.0, axes)?;
    reference(&mut chart, theme, line, theme.muted(), name)?;
    for (i, s) in series.iter().enumerate() {
        let Some(c) = &s.data.curves else { continue };
        let (points, quoted, point) = curve(c);
        let style = theme.line(theme.series(i), 2.0);
        chart
            .draw_series(LineSeries::new(points.iter().map(|p| (p[0], p[1])), style))?
            .label(format!("{} ({quoted})", s.label))
            .legend(swatch(style, theme));
        if let (Some(at), Some(t)) = (point, c.threshold) {
            let color = theme.series(i);
            let r = theme.px(5.0);
            let ring = theme.line(theme.ink(), 1.5);
            chart
                .draw_series([Circle::new(at, r, color.filled()), Circle::new(at, r, ring)])?
                .label(format!("{} at threshold {t}", s.label))
                .legend(move |(x, y)| Circle::new((x + 7, y), r, color.filled()));
        }
    }
    legend(&mut chart, theme, position)
}

/// The smallest of 1, 2 or 5 times a power of ten at or above `x`.
fn nice_ceiling(x: f64) -> f64 {
    if !(x > 0.0 && x.is_finite()) {
        return 1.0;
    }
    let mut power = 1.0;
    while power > x {
        power /= 10.0;
    }
    while power * 10.0 <= x {
        power *= 10.0;
    }
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&v| v >= x * (1.0 - 1e-12))
        .unwrap_or(10.0 * power)
}

fn calibration<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    // Click-through rates live near zero: the axes stop above the largest
    // bin instead of at 1.
    let top = series
        .iter()
        .filter_map(|s| s.data.curves.as_ref())
        .flat_map(|c| c.reliability.iter().map(|b| b[0].max(b[1])))
        .fold(0.0, f64::max);
    let top = nice_ceiling(top * 1.05).min(1.0);
    let mut chart = plane(
        area,
        theme,
        0.0..top,
        0.0..top,
        ("Mean predicted probability", "Observed positive rate"),
    )?;
    reference(
        &mut chart,
        theme,
        vec![(0.0, 0.0), (top, top)],
        theme.muted(),
        "Perfectly calibrated",
    )?;
    for (i, s) in series.iter().enumerate() {
        let Some(c) = &s.data.curves else { continue };
        let color = theme.series(i);
        let style = theme.line(color, 2.0);
        let points: Vec<(f64, f64)> = c.reliability.iter().map(|b| (b[0], b[1])).collect();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(format!("{} (ECE {:.3})", s.label, c.ece))
            .legend(swatch(style, theme));
        let r = theme.px(3.5);
        chart.draw_series(points.iter().map(|&p| Circle::new(p, r, color.filled())))?;
    }
    legend(&mut chart, theme, SeriesLabelPosition::UpperLeft)
}

fn loss<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    let values = || {
        series
            .iter()
            .flat_map(|s| s.data.loss.train.iter().chain(&s.data.loss.valid))
            .copied()
            .filter(|v| v.is_finite())
    };
    let low = values().fold(f64::INFINITY, f64::min);
    let high = values().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((high - low) * 0.08).max(1e-4);
    let epochs = series
        .iter()
        .map(|s| s.data.loss.valid.len().max(s.data.loss.train.len()))
        .max()
        .unwrap_or(1)
        .max(2);
    let mut chart = plane_counting(
        area,
        theme,
        1.0..epochs as f64,
        (low - pad)..(high + pad),
        ("Epoch", "Log loss"),
        true,
    )?;
    for (i, s) in series.iter().enumerate() {
        let color = theme.series(i);
        let l = &s.data.loss;
        let by_epoch = |v: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .enumerate()
                .map(|(e, &x)| ((e + 1) as f64, x))
                .collect()
        };
        let train = theme.line(color, 1.5);
        chart
            .draw_series(DashedLineSeries::new(
                by_epoch(&l.train),
                theme.px(5.0),
                theme.px(4.0),
                train,
            ))?
            .label(format!("{}: training", s.label))
            .legend(swatch(train, theme));
        let valid = theme.line(color, 2.5);
        chart
            .draw_series(LineSeries::new(by_epoch(&l.valid), valid))?
            .label(format!("{}: validation", s.label))
            .legend(swatch(valid, theme));
        if let Some(&best) = l.valid.get(l.best_epoch) {
            let at = ((l.best_epoch + 1) as f64, best);
            chart.draw_series([Circle::new(at, theme.px(5.0), color.filled())])?;
        }
    }
    legend(&mut chart, theme, SeriesLabelPosition::UpperRight)
}

fn confusion<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    let shown: Vec<_> = series
        .iter()
        .filter_map(|s| Some((s.label, s.data.curves.as_ref()?)))
        .collect();
    let panels = area.split_evenly((1, shown.len().max(1)));
    for (i, ((label, c), panel)) in shown.iter().zip(&panels).enumerate() {
        let mut chart = ChartBuilder::on(panel)
            .margin(theme.px(MARGIN))
            .caption(
                format!("{label}, threshold {}", c.threshold.unwrap_or(0.5)),
                theme.font(12.0),
            )
            .x_label_area_size(theme.px(X_LABEL_AREA))
            .y_label_area_size(theme.px(70.0))
            .build_cartesian_2d((0u32..2u32).into_segmented(), (0u32..2u32).into_segmented())?;
        let name = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(0) => "Negative".to_owned(),
            SegmentValue::CenterOf(1) => "Positive".to_owned(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("Predicted")
            .y_desc("Actual")
            .x_label_formatter(&name)
            .y_label_formatter(&name)
            .label_style(theme.font(11.0))
            .axis_desc_style(theme.font(12.0))
            .axis_style(theme.muted())
            .draw()?;
        let total = c.confusion.iter().sum::<u64>().max(1) as f64;
        let color = theme.series(i);
        // [tn, fp, fn, tp]: (predicted, actual) cells.
        let cells = [(0, 0), (1, 0), (0, 1), (1, 1)];
        for (&(x, y), &count) in cells.iter().zip(&c.confusion) {
            let share = count as f64 / total;
            let fill = color.mix(0.12 + 0.75 * share.sqrt()).filled();
            chart.draw_series([Rectangle::new(
                [
                    (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                    (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                ],
                fill,
            )])?;
            let at = (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y));
            chart.draw_series([
                Text::new(
                    count.to_string(),
                    at.clone(),
                    theme.font(14.0).pos(Pos::new(HPos::Center, VPos::Bottom)),
                ),
                Text::new(
                    format!("{:.1}%", share * 100.0),
                    at,
                    theme.font(11.0).pos(Pos::new(HPos::Center, VPos::Top)),
                ),
            ])?;
        }
    }
    Ok(())
}

fn scores<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    // Each class's share of its rows per bin, so a rare class is visible.
    let shares = |counts: &[u32]| -> Vec<f64> {
        let total = f64::from(counts.iter().sum::<u32>().max(1));
        counts.iter().map(|&c| f64::from(c) / total).collect()
    };
    let curves: Vec<_> = series
        .iter()
        .filter_map(|s| Some((s.label, s.data.curves.as_ref()?)))
        .collect();
    let top = curves
        .iter()
        .flat_map(|(_, c)| {
            shares(&c.scores_negative)
                .into_iter()
                .chain(shares(&c.scores_positive))
        })
        .fold(0.0, f64::max);
    let mut chart = plane(
        area,
        theme,
        0.0..1.0,
        0.0..(top * 1.1).max(0.01),
        ("Predicted score", "Share of the class's rows"),
    )?;
    for (i, (label, c)) in curves.iter().enumerate() {
        for (counts, color, class) in [
            (&c.scores_negative, SKY_BLUE, "negatives"),
            (&c.scores_positive, VERMILLION, "positives"),
        ] {
            let bins = counts.len().max(1) as f64;
            let steps: Vec<(f64, f64)> = shares(counts)
                .into_iter()
                .enumerate()
                .flat_map(|(b, v)| [(b as f64 / bins, v), ((b + 1) as f64 / bins, v)])
                .collect();
            let style = theme.line(color, 2.0);
            let drawn = if i == 0 {
                chart
                    .draw_series(AreaSeries::new(steps, 0.0, color.mix(0.18)).border_style(style))?
            } else {
                chart.draw_series(DashedLineSeries::new(
                    steps,
                    theme.px(5.0),
                    theme.px(3.0),
                    style,
                ))?
            };
            drawn
                .label(format!("{label}: {class}"))
                .legend(swatch(style, theme));
        }
        if let Some(t) = c.threshold.filter(|_| i == 0) {
            reference(
                &mut chart,
                theme,
                vec![(t, 0.0), (t, top * 1.1)],
                theme.ink(),
                "Removal threshold",
            )?;
        }
    }
    legend(&mut chart, theme, SeriesLabelPosition::UpperRight)
}

fn latency<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    let all = || series.iter().map(|s| &s.data.latency);
    let low = all()
        .flat_map(|l| l.buckets.iter().map(|b| b[0]))
        .fold(f64::INFINITY, f64::min)
        .max(1e-3);
    let high = all()
        .flat_map(|l| l.buckets.iter().map(|b| b[1]).chain([l.slo_ms]))
        .fold(0.0, f64::max)
        .max(low * 2.0);
    let share = |l: &super::LatencyData| {
        let total = l.buckets.iter().map(|b| b[2]).sum::<f64>().max(1.0);
        l.buckets
            .iter()
            .map(|b| (b[0], b[1], 100.0 * b[2] / total))
            .collect::<Vec<_>>()
    };
    let top = all()
        .flat_map(|l| share(l).into_iter().map(|b| b.2))
        .fold(0.0, f64::max)
        * 1.25;
    // The legend's rows (each design and the SLO) sit above the bars and
    // the percentile labels.
    let (_, h) = area.dim_in_pixel();
    let ceiling = legend_ceiling(theme, h, series.len() + 1, 0.0, top.max(1.0));
    let mut chart = ChartBuilder::on(area)
        .margin(theme.px(MARGIN))
        .x_label_area_size(theme.px(X_LABEL_AREA))
        .y_label_area_size(theme.px(58.0))
        .build_cartesian_2d((low * 0.9..high * 1.1).log_scale(), 0.0..ceiling)?;
    // No share is above 100%: the band above holds the legend, unlabelled.
    let share_label = |v: &f64| {
        if *v <= 100.0 + 1e-9 {
            format!("{v:.1}")
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc("Latency, ms (log scale)")
        .y_desc("Share of requests, %")
        .x_labels(8)
        .y_labels(5)
        .y_label_formatter(&share_label)
        .label_style(theme.font(11.0))
        .axis_desc_style(theme.font(12.0))
        .bold_line_style(theme.grid())
        .light_line_style(TRANSPARENT)
        .axis_style(theme.muted())
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let l = &s.data.latency;
        let color = theme.series(i);
        let fill = if i == 0 {
            color.mix(0.55).filled()
        } else {
            theme.line(color, 1.5)
        };
        chart
            .draw_series(
                share(l)
                    .into_iter()
                    .map(|(lo, hi, v)| Rectangle::new([(lo, 0.0), (hi, v)], fill)),
            )?
            .label(s.label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], fill));
        percentiles(&mut chart, theme, l, color, top, i == 0)?;
    }
    if let Some(slo) = series.first().map(|s| s.data.latency.slo_ms) {
        let style = theme.line(VERMILLION, 2.0);
        chart
            .draw_series(LineSeries::new(vec![(slo, 0.0), (slo, top)], style))?
            .label(format!("SLO {slo} ms"))
            .legend(swatch(style, theme));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin(theme.px(8.0))
        .background_style(theme.background().mix(0.85))
        .border_style(theme.grid())
        .label_font(theme.font(11.0))
        .draw()?;
    Ok(())
}

/// The latency chart's plane: log-scaled milliseconds by share of requests.
type LatencyPlane<'a, DB> = ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, RangedCoordf64>>;

/// A design's p50, p95 and p99 as dashed lines up to staggered heights of
/// `top` (they are often a pixel apart), labelled when `labelled` (equal
/// ones share a label; one right of the middle ends at its line, so it
/// stays inside the plot).
fn percentiles<DB: DrawingBackend>(
    chart: &mut LatencyPlane<'_, DB>,
    theme: Theme,
    l: &super::LatencyData,
    color: RGBColor,
    top: f64,
    labelled: bool,
) -> Result<(), ChartError> {
    let marks = [
        ("p50", l.p50_ms, 2.0, 0.93),
        ("p95", l.p95_ms, 4.0, 0.83),
        ("p99", l.p99_ms, 7.0, 0.73),
    ];
    for (_, at, dash, height) in marks {
        chart.draw_series(DashedLineSeries::new(
            vec![(at, 0.0), (at, top * height)],
            theme.px(dash),
            theme.px(3.0),
            theme.line(color, 1.5),
        ))?;
    }
    if !labelled {
        return Ok(());
    }
    let x = chart.x_range();
    let labels = percentile_labels(&marks.map(|(name, at, _, _)| (name, at)));
    for (label, first) in labels {
        // A shared label stands at its first marker's line and height.
        let (_, at, _, height) = marks[first];
        let right = ln(at / x.start) / ln(x.end / x.start) > 0.55;
        let (text, anchor) = if right {
            (format!("{label} "), HPos::Right)
        } else {
            (format!(" {label}"), HPos::Left)
        };
        chart.draw_series([Text::new(
            text,
            (at, top * height),
            theme.font(10.5).pos(Pos::new(anchor, VPos::Center)),
        )])?;
    }
    Ok(())
}

/// The percentile markers' labels, each with the index of its first
/// marker: consecutive markers whose values read the same share one label
/// ("p50–p99 7.2 ms": every percentile from the 50th to the 99th), which
/// would otherwise be drawn over each other.
fn percentile_labels(marks: &[(&str, f64)]) -> Vec<(String, usize)> {
    // (first name, last name, value as shown, first marker)
    let mut labels: Vec<(&str, &str, String, usize)> = Vec::new();
    for (i, &(name, at)) in marks.iter().enumerate() {
        let value = format!("{at:.1} ms");
        match labels.last_mut() {
            Some((_, last, shown, _)) if *shown == value => *last = name,
            _ => labels.push((name, name, value, i)),
        }
    }
    labels
        .into_iter()
        .map(|(first, last, value, index)| {
            let names = if first == last {
                first.to_owned()
            } else {
                format!("{first}–{last}")
            };
            (format!("{names} {value}"), index)
        })
        .collect()
}

fn throughput<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    let points = || series.iter().flat_map(|s| s.data.hourly.iter());
    let qps = points().map(|h| h[0]).fold(0.0, f64::max);
    let slo = series.first().map_or(0.0, |s| s.data.latency.slo_ms);
    let p99 = points().map(|h| h[1]).fold(slo, f64::max);
    let (_, h) = area.dim_in_pixel();
    let ceiling = legend_ceiling(theme, h, series.len() + 1, 0.0, (p99 * 1.05).max(1.0));
    let mut chart = plane(
        area,
        theme,
        0.0..(qps * 1.1).max(1.0),
        0.0..ceiling,
        ("Offered load, requests per second", "p99 latency, ms"),
    )?;
    reference(
        &mut chart,
        theme,
        vec![(0.0, slo), (qps * 1.1, slo)],
        VERMILLION,
        &format!("SLO {slo} ms"),
    )?;
    for (i, s) in series.iter().enumerate() {
        let color = theme.series(i);
        let r = theme.px(4.0);
        chart
            .draw_series(
                s.data
                    .hourly
                    .iter()
                    .map(|h| Circle::new((h[0], h[1]), r, color.filled())),
            )?
            .label(format!(
                "{}, per {}",
                s.label,
                super::interval_label(s.data.interval_s)
            ))
            .legend(move |(x, y)| Circle::new((x + 7, y), r, color.filled()));
    }
    legend(&mut chart, theme, SeriesLabelPosition::UpperLeft)
}

fn ab_test<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    let tests: Vec<_> = series
        .iter()
        .filter_map(|s| Some((s.label, s.data.ab.as_ref()?)))
        .collect();
    let low = tests.iter().map(|(_, ab)| ab.ci_low).fold(0.0, f64::min);
    let high = tests.iter().map(|(_, ab)| ab.ci_high).fold(0.0, f64::max);
    let pad = ((high - low) * 0.15).max(1e-3);
    let metric = tests.first().map_or("", |(_, ab)| ab.metric.as_str());
    let rows = tests.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(theme.px(MARGIN))
        .x_label_area_size(theme.px(X_LABEL_AREA))
        .y_label_area_size(theme.px(12.0))
        .build_cartesian_2d((low - pad)..(high + pad), 0.0..rows)?;
    chart
        .configure_mesh()
        .x_desc(metric)
        .x_labels(6)
        .y_labels(0)
        .label_style(theme.font(11.0))
        .axis_desc_style(theme.font(12.0))
        .bold_line_style(theme.grid())
        .light_line_style(TRANSPARENT)
        .axis_style(theme.muted())
        .draw()?;
    chart.draw_series(DashedLineSeries::new(
        vec![(0.0, 0.0), (0.0, rows)],
        theme.px(5.0),
        theme.px(4.0),
        theme.line(theme.muted(), 1.5),
    ))?;
    for (i, (label, ab)) in tests.iter().enumerate() {
        let y = rows - i as f64 - 0.5;
        let color = theme.series(i);
        let style = theme.line(color, 3.0);
        chart.draw_series(LineSeries::new(
            vec![(ab.ci_low, y), (ab.ci_high, y)],
            style,
        ))?;
        chart.draw_series([Circle::new(
            (ab.difference, y),
            theme.px(6.0),
            color.filled(),
        )])?;
        let verdict = if ab.p_value < 0.05 {
            "significant"
        } else {
            "not significant"
        };
        chart.draw_series([Text::new(
            format!(
                "{label}: {:+.4} [{:+.4}, {:+.4}], p = {:.3}, {verdict}",
                ab.difference, ab.ci_low, ab.ci_high, ab.p_value
            ),
            (f64::midpoint(low, high), y + 0.12),
            theme.font(11.0).pos(Pos::new(HPos::Center, VPos::Bottom)),
        )])?;
    }
    Ok(())
}

fn drift<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    let monitored: Vec<_> = series
        .iter()
        .filter_map(|s| Some((s.label, &s.data.drift.as_ref()?.days)))
        .collect();
    let Some(names) = series.iter().find_map(|s| s.data.drift.as_ref()) else {
        return Ok(());
    };
    let days = || monitored.iter().flat_map(|(_, d)| d.iter());
    let first = days()
        .map(|d| f64::from(d.day))
        .fold(f64::INFINITY, f64::min);
    let last = days()
        .map(|d| f64::from(d.day))
        .fold(f64::NEG_INFINITY, f64::max);
    let x = (first - 0.5)..(last + 0.5);
    let low = days()
        .map(|d| d.online.min(d.baseline))
        .fold(f64::INFINITY, f64::min);
    let high = days().map(|d| d.online.max(d.baseline)).fold(0.0, f64::max);
    let pad = ((high - low) * 0.15).max(1e-3);
    let (_, h) = area.dim_in_pixel();
    let (top, bottom) = area.split_vertically(h * 3 / 5);
    // The legend sits in the upper left, above the lines: one row per
    // design's line, the baseline's, and the retraining marker's.
    let rows = monitored.len() + 1 + usize::from(days().any(|d| d.retrained));
    let ceiling = legend_ceiling(theme, h * 3 / 5, rows, low - pad, high + pad);
    let mut upper = plane_counting(
        &top,
        theme,
        x.clone(),
        (low - pad)..ceiling,
        ("", names.metric.as_str()),
        true,
    )?;
    for (i, (label, d)) in monitored.iter().enumerate() {
        let color = theme.series(i);
        let style = theme.line(color, 2.0);
        let points: Vec<(f64, f64)> = d.iter().map(|d| (f64::from(d.day), d.online)).collect();
        chart_line_with_points(
            &mut upper,
            &points,
            style,
            color,
            theme,
            &format!("{label}: model"),
        )?;
        if i == 0 {
            let baseline: Vec<(f64, f64)> =
                d.iter().map(|d| (f64::from(d.day), d.baseline)).collect();
            reference(&mut upper, theme, baseline, theme.muted(), &names.baseline)?;
        }
        for day in d.iter().filter(|d| d.retrained) {
            let at = f64::from(day.day) - 0.5;
            upper.draw_series(DashedLineSeries::new(
                vec![(at, low - pad), (at, high + pad)],
                theme.px(3.0),
                theme.px(3.0),
                theme.line(GREEN, 2.0),
            ))?;
        }
    }
    if days().any(|d| d.retrained) {
        let style = theme.line(GREEN, 2.0);
        upper
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
            .label("Retrained model deployed")
            .legend(swatch(style, theme));
    }
    legend(&mut upper, theme, SeriesLabelPosition::UpperLeft)?;

    drift_statistics(&monitored, &bottom, x, theme)
}

/// The top of the y axis of a plane in a panel `panel` pixels tall, with
/// values from `bottom` to `high`, that leaves a legend of `rows` entries
/// in its upper corner clear of the data.
fn legend_ceiling(theme: Theme, panel: u32, rows: usize, bottom: f64, high: f64) -> f64 {
    let plot = panel.saturating_sub(2 * theme.px(MARGIN) + theme.px(X_LABEL_AREA));
    let rows = u32::try_from(rows).unwrap_or(u32::MAX);
    // About 15 px a row, the box's padding, and its 8 px margin.
    let legend = rows.saturating_mul(theme.px(15.0)) + theme.px(26.0);
    headroom(bottom, high, plot, legend)
}

/// The top of a y axis from `bottom` whose upper `legend` pixels of a
/// `plot` pixels tall hold no value up to `high`, so a legend drawn there
/// covers no point. At most 60% of the plot is given to the legend.
fn headroom(bottom: f64, high: f64, plot: u32, legend: u32) -> f64 {
    let share = (f64::from(legend) / f64::from(plot.max(1))).min(0.6);
    (high - share * bottom) / (1.0 - share)
}

/// The drift chart's lower panel: the detector's statistic per day, alert
/// days in vermillion.
fn drift_statistics<DB: DrawingBackend>(
    monitored: &[(&str, &Vec<super::DriftDay>)],
    area: &Area<DB>,
    x: Range<f64>,
    theme: Theme,
) -> Result<(), ChartError> {
    let days = || monitored.iter().flat_map(|(_, d)| d.iter());
    let stat_high = days().map(|d| d.statistic).fold(0.0, f64::max);
    let mut lower = plane_counting(
        area,
        theme,
        x,
        0.0..(stat_high * 1.2).max(1e-6),
        ("Day", "Drift statistic"),
        true,
    )?;
    let bars = monitored.len().max(1) as f64;
    for (i, (_, d)) in monitored.iter().enumerate() {
        let color = theme.series(i);
        let width = 0.7 / bars;
        lower.draw_series(d.iter().map(|day| {
            let left = f64::from(day.day) - 0.35 + width * i as f64;
            let fill = if day.alert { VERMILLION } else { color };
            Rectangle::new(
                [(left, 0.0), (left + width, day.statistic)],
                fill.mix(0.8).filled(),
            )
        }))?;
    }
    if days().any(|d| d.alert) {
        let fill = VERMILLION.mix(0.8).filled();
        lower
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
            .label("Alert")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], fill));
        legend(&mut lower, theme, SeriesLabelPosition::UpperLeft)?;
    }
    Ok(())
}

/// A line with a dot at each point, and its legend entry.
fn chart_line_with_points<'a, DB: DrawingBackend + 'a>(
    chart: &mut Plane<'a, DB>,
    points: &[(f64, f64)],
    style: ShapeStyle,
    color: RGBColor,
    theme: Theme,
    label: &str,
) -> Result<(), ChartError> {
    chart
        .draw_series(LineSeries::new(points.iter().copied(), style))?
        .label(label)
        .legend(swatch(style, theme));
    let r = theme.px(3.5);
    chart.draw_series(points.iter().map(|&p| Circle::new(p, r, color.filled())))?;
    Ok(())
}

fn cost<DB: DrawingBackend>(
    series: &[Series<'_>],
    area: &Area<DB>,
    theme: Theme,
) -> Result<(), ChartError> {
    let items: Vec<&str> = series
        .first()
        .map(|s| s.data.cost.iter().map(|(what, _)| what.as_str()).collect())
        .unwrap_or_default();
    let high = series
        .iter()
        .flat_map(|s| s.data.cost.iter().map(|(_, v)| *v))
        .fold(0.0, f64::max);
    let rows = items.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(theme.px(MARGIN))
        .x_label_area_size(theme.px(X_LABEL_AREA))
        .y_label_area_size(theme.px(12.0))
        .build_cartesian_2d(0.0..(high * 1.3).max(0.01), 0.0..rows.max(1.0))?;
    chart
        .configure_mesh()
        .x_desc("Dollars")
        .x_labels(6)
        .y_labels(0)
        .label_style(theme.font(11.0))
        .axis_desc_style(theme.font(12.0))
        .bold_line_style(theme.grid())
        .light_line_style(TRANSPARENT)
        .axis_style(theme.muted())
        .draw()?;
    let per_row = series.len().max(1) as f64;
    for (row, what) in items.iter().enumerate() {
        let top = rows - row as f64 - 0.2;
        chart.draw_series([Text::new(
            (*what).to_owned(),
            (0.0, top),
            theme.font(12.0).pos(Pos::new(HPos::Left, VPos::Bottom)),
        )])?;
        for (i, s) in series.iter().enumerate() {
            let Some((_, dollars)) = s.data.cost.iter().find(|(w, _)| w == what) else {
                continue;
            };
            let height = 0.55 / per_row;
            let y1 = top - 0.05 - height * i as f64;
            let color = theme.series(i);
            chart.draw_series([Rectangle::new(
                [(0.0, y1 - height), (*dollars, y1)],
                color.mix(0.85).filled(),
            )])?;
            chart.draw_series([Text::new(
                format!(" ${dollars:.2} {}", s.label),
                (*dollars, y1 - height / 2.0),
                theme.font(11.0).pos(Pos::new(HPos::Left, VPos::Center)),
            )])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_percentiles_share_one_label() {
        let label = |marks: &[(&str, f64)]| percentile_labels(marks);
        assert_eq!(
            label(&[("p50", 7.21), ("p95", 7.24), ("p99", 7.2)]),
            [("p50–p99 7.2 ms".to_owned(), 0)]
        );
        assert_eq!(
            label(&[("p50", 2.2), ("p95", 3.37), ("p99", 3.38)]),
            [
                ("p50 2.2 ms".to_owned(), 0),
                ("p95–p99 3.4 ms".to_owned(), 1)
            ]
        );
        // A label after a shared one stands at its own marker (p99's, not
        // p95's height).
        assert_eq!(
            label(&[("p50", 1.0), ("p95", 1.02), ("p99", 5.0)]),
            [
                ("p50–p95 1.0 ms".to_owned(), 0),
                ("p99 5.0 ms".to_owned(), 2)
            ]
        );
        assert_eq!(label(&[("p50", 1.0), ("p95", 2.0), ("p99", 1.0)]).len(), 3);
    }

    #[test]
    fn headroom_keeps_the_legend_rows_free_of_data() {
        // A 200-pixel plot from 0 to 1 with a 50-pixel legend: 1 maps to
        // 50 pixels below the top.
        let top = headroom(0.0, 1.0, 200, 50);
        assert!(((top - 1.0) / top * 200.0 - 50.0).abs() < 1e-9);
        // A legend taller than the plot still leaves 40% to the data.
        let top = headroom(2.0, 3.0, 100, 500);
        assert!(((3.0 - 2.0) / (top - 2.0) - 0.4).abs() < 1e-9);
        assert!((headroom(0.0, 1.0, 200, 0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn nice_ceilings_are_one_two_or_five_times_a_power_of_ten() {
        for (x, ceiling) in [
            (0.13, 0.2),
            (0.2, 0.2),
            (0.31, 0.5),
            (0.7, 1.0),
            (0.042, 0.05),
            (37.0, 50.0),
            (0.0, 1.0),
        ] {
            assert!(
                (nice_ceiling(x) - ceiling).abs() < 1e-12,
                "{x}: {}",
                nice_ceiling(x)
            );
        }
    }

    #[test]
    fn an_unmeasured_chart_says_so() -> Result<(), ChartError> {
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, (480, 320)).into_drawing_area();
            let data = ChartData::default();
            draw(
                Chart::Roc,
                &[Series {
                    label: "Current",
                    data: &data,
                }],
                &area,
                Theme::default(),
            )?;
        }
        assert!(svg.contains("Not measured for this design"), "{svg}");
        Ok(())
    }

    #[test]
    fn a_chart_draws_the_design_that_has_it_beside_one_that_does_not() -> Result<(), ChartError> {
        let trained = ChartData {
            loss: super::super::LossData {
                train: vec![0.5, 0.4, 0.35],
                valid: vec![0.52, 0.45, 0.46],
                best_epoch: 1,
            },
            ..ChartData::default()
        };
        let untrained = ChartData::default();
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, (480, 320)).into_drawing_area();
            let series = [
                Series {
                    label: "B",
                    data: &untrained,
                },
                Series {
                    label: "A",
                    data: &trained,
                },
            ];
            draw(Chart::Loss, &series, &area, Theme::default())?;
        }
        assert!(!svg.contains("Not measured"), "{svg}");
        assert!(svg.contains("A: validation"), "{svg}");
        Ok(())
    }
}
