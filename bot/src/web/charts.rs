//! SVG charts drawn on the server with plotters: one line per severity over the weeks.

use chrono::NaiveDate;
use klaxon_commands::Severity;
use plotters::prelude::*;

/// One severity's line: a value (minutes) per week, `None` where no incident counted.
pub struct Series {
    pub severity: Severity,
    pub values: Vec<Option<f64>>,
}

fn colour(severity: Severity) -> RGBColor {
    match severity {
        Severity::Sev1 => RGBColor(0xc6, 0x28, 0x28),
        Severity::Sev2 => RGBColor(0xef, 0x6c, 0x00),
        Severity::Sev3 => RGBColor(0xb2, 0x8a, 0x00),
        Severity::Sev4 => RGBColor(0x15, 0x65, 0xc0),
    }
}

/// The chart as an SVG document: `weeks` along the bottom (their Mondays), minutes up the side.
pub fn weekly(title: &str, weeks: &[NaiveDate], series: &[Series]) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let top = series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .fold(0.0_f64, |a, b| a.max(*b));
        let top = if top <= 0.0 { 10.0 } else { top * 1.15 };
        let n = weeks.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0..n, 0.0..top)
            .map_err(draw_error)?;
        let labels: Vec<String> = weeks
            .iter()
            .map(|w| w.format("%m-%d").to_string())
            .collect();
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_labels(n.min(12))
            .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
            .x_desc("week starting (UTC)")
            .y_desc("minutes")
            .draw()
            .map_err(draw_error)?;
        for s in series {
            let points: Vec<(usize, f64)> = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, v)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let c = colour(s.severity);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                .map_err(draw_error)?
                .label(s.severity.to_string())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))
                .map_err(draw_error)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

fn draw_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e:?}")
}
