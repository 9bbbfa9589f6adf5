//! The receipt as one self-contained HTML page: no scripts, no external
//! assets (it is opened from an email or a QR code on a phone, maybe
//! offline), semantic tables with captions and headers for screen readers,
//! and CSS that prints on one A4/Letter page. maud escapes every value.

use joule_domain::receipts::receipt::Receipt;
use maud::{html, Markup, DOCTYPE};

use crate::view::View;

const CSS: &str = "\
:root{color-scheme:light dark;--muted:#555;--line:#ccc}\
@media (prefers-color-scheme:dark){:root{--muted:#aaa;--line:#444}}\
*{box-sizing:border-box}\
body{font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;padding:1rem}\
main{max-width:40rem;margin:0 auto}\
h1{font-size:1.4rem;margin:0 0 .25rem}\
h2{font-size:1.05rem;margin:1.5rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}\
.operator{margin:0;color:var(--muted)}\
dl{display:grid;grid-template-columns:minmax(6rem,40%) 1fr;gap:.25rem 1rem;margin:0}\
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}\
table{width:100%;border-collapse:collapse}\
caption{text-align:left;font-weight:600;padding:.25rem 0}\
th,td{padding:.3rem .25rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}\
td.n,th.n{text-align:right;white-space:nowrap}\
tfoot th,tfoot td{border-bottom:none}\
tr.total th,tr.total td{font-weight:700;font-size:1.1rem}\
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.75rem;background:rgba(127,127,127,.1);padding:.5rem;margin:.25rem 0 1rem}\
.note,footer,small{color:var(--muted);font-size:.9rem}\
th{font-weight:600}@media (max-width:30rem){body{padding:.75rem}table{font-size:.875rem}}\
@media print{body{padding:0;font-size:11pt}h2{break-after:avoid}pre{font-size:7pt}tr,pre{break-inside:avoid}}\
";

/// The receipt page, in the receipt's language.
pub fn render_html(receipt: &Receipt) -> String {
    page(&View::of(receipt)).into_string()
}

fn page(v: &View) -> Markup {
    let l = v.labels;
    html! {
        (DOCTYPE)
        html lang=(v.lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (v.title) " " (v.number) }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                main {
                    header {
                        h1 { (v.title) }
                        p.operator {
                            @for (i, line) in v.operator.iter().enumerate() {
                                @if i > 0 { br; }
                                (line)
                            }
                        }
                    }
                    section aria-labelledby="session" {
                        h2 #session { (l.session) }
                        dl {
                            @for (label, value) in &v.session {
                                dt { (label) }
                                dd { (value) }
                            }
                        }
                    }
                    @if !v.unit_prices.is_empty() {
                        section aria-labelledby="prices" {
                            h2 #prices { (l.unit_prices) }
                            table {
                                thead { tr {
                                    th scope="col" { (l.item) }
                                    th.n scope="col" { (l.excl_vat) }
                                    th.n scope="col" { (l.incl_vat) }
                                } }
                                tbody {
                                    @for p in &v.unit_prices {
                                        tr {
                                            th scope="row" { (p.what) br; small { (p.vat) } }
                                            td.n { (p.excl_vat) }
                                            td.n { (p.incl_vat) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    section aria-labelledby="charges" {
                        h2 #charges { (l.charges) }
                        table {
                            thead { tr {
                                th scope="col" { (l.item) }
                                th.n scope="col" { (l.quantity) }
                                th.n scope="col" { (l.excl_vat) }
                                th.n scope="col" { (l.incl_vat) }
                            } }
                            tbody {
                                @for row in &v.charges {
                                    tr {
                                        th scope="row" { (row.item) }
                                        td.n { (row.quantity) }
                                        td.n { (row.excl_vat) }
                                        td.n { (row.incl_vat) }
                                    }
                                }
                            }
                            tfoot {
                                @for (i, (label, value)) in v.totals.iter().enumerate() {
                                    tr.total[i + 1 == v.totals.len()] {
                                        th scope="row" colspan="3" { (label) }
                                        td.n { (value) }
                                    }
                                }
                            }
                        }
                    }
                    @if !v.vat.is_empty() {
                        section aria-labelledby="vat" {
                            h2 #vat { (l.vat) }
                            table {
                                thead { tr {
                                    th scope="col" { (l.vat_rate) }
                                    th.n scope="col" { (l.vat_base) }
                                    th.n scope="col" { (l.vat) }
                                } }
                                tbody {
                                    @for (rate, base, vat) in &v.vat {
                                        tr { th scope="row" { (rate) } td.n { (base) } td.n { (vat) } }
                                    }
                                }
                            }
                        }
                    }
                    section aria-labelledby="payment" {
                        h2 #payment { (l.payment) }
                        p { (v.payment) }
                    }
                    @if !v.signed.is_empty() {
                        section aria-labelledby="signed" {
                            h2 #signed { (l.signed_data) }
                            p.note { (l.signed_data_note) }
                            @for block in &v.signed {
                                p { (block.caption) }
                                pre { (block.data) }
                            }
                        }
                    }
                    footer {
                        dl {
                            @for (label, value) in &v.footer {
                                dt { (label) }
                                dd { (value) }
                            }
                        }
                        @if let Some(notice) = &v.complaint_notice {
                            p { (notice) }
                        }
                    }
                }
            }
        }
    }
}
