//! Hand-written SVG line charts: one polyline per series, vertical lines for actions.

use super::escape;

/// One line of a chart.
pub(crate) struct Line<'a> {
    pub(crate) name: &'a str,
    pub(crate) color: &'a str,
    pub(crate) values: Vec<f64>,
}

const W: f64 = 720.0;
const H: f64 = 180.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 28.0;

fn nice_max(m: f64) -> f64 {
    if m <= 0.0 || !m.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(m.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * mag >= m {
            return step * mag;
        }
    }
    10.0 * mag
}

/// A line chart over seconds `0..n`, with `markers` (second, label) as dashed vertical lines.
pub(crate) fn chart(
    title: &str,
    unit: &str,
    lines: &[Line<'_>],
    markers: &[(f64, String)],
) -> String {
    let n = lines
        .iter()
        .map(|l| l.values.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let ymax = nice_max(
        lines
            .iter()
            .flat_map(|l| l.values.iter().copied())
            .fold(0.0, f64::max),
    );
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |s: f64| LEFT + pw * s / (n - 1) as f64;
    let y = |v: f64| TOP + ph * (1.0 - (v / ymax).clamp(0.0, 1.0));
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"11\">\n"
    );
    out.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"14\" font-weight=\"bold\">{}</text>\n",
        escape(title)
    ));
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} {}</text>\n",
            W - RIGHT,
            y(v),
            y(v),
            LEFT - 4.0,
            y(v) + 4.0,
            fmt(v),
            escape(unit)
        ));
    }
    let step = (n / 10).max(1);
    for s in (0..n).step_by(step) {
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{s}s</text>\n",
            x(s as f64),
            H - 10.0
        ));
    }
    for (at, label) in markers {
        let mx = x(at.min((n - 1) as f64));
        out.push_str(&format!(
            "<line x1=\"{mx:.1}\" x2=\"{mx:.1}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#c00\">{}</text>\n",
            TOP + ph,
            mx + 3.0,
            TOP + 10.0,
            escape(label)
        ));
    }
    let mut legend_x = LEFT + 200.0;
    for line in lines {
        let points: Vec<String> = line
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i as f64), y(*v)))
            .collect();
        out.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
            line.color,
            points.join(" ")
        ));
        out.push_str(&format!(
            "<rect x=\"{legend_x:.1}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"15\">{}</text>\n",
            line.color,
            legend_x + 14.0,
            escape(line.name)
        ));
        legend_x += 20.0 + 7.0 * line.name.len() as f64;
    }
    out.push_str("</svg>\n");
    out
}

fn fmt(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
