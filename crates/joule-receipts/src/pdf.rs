//! The receipt as a PDF, for the email attachment and for download.
//!
//! Laid out by hand on A4 with one embedded font: DejaVu Sans (Bitstream Vera
//! licence, fonts/LICENSE-DejaVu.txt) cut to Latin-1, Latin Extended-A,
//! punctuation and € by scripts/receipt-font, which covers every accent of
//! es/fr/de; a character outside it prints as an empty box. The cut font is
//! 24 KB, so a receipt is small without printpdf's subsetting (that needs its
//! whole layout engine); printpdf writes a ToUnicode map, so the text can be
//! searched and copied.
//! Coordinates are floats (points); amounts are already text from [`View`].

use std::sync::OnceLock;

use joule_domain::receipts::receipt::Receipt;
use printpdf::{
    Color, FontId, Line, LinePoint, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rgb, TextItem,
};

use crate::view::View;
use crate::ReceiptRenderError;

const FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans-receipt.ttf");

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 48.0;
const RIGHT: f32 = PAGE_W - MARGIN;
const VALUE_X: f32 = MARGIN + 170.0;
const BODY: f32 = 10.0;
const SMALL: f32 = 7.0;

/// The font, parsed once per process (parsing takes a moment).
fn font() -> Result<&'static ParsedFont, ReceiptRenderError> {
    static FONT: OnceLock<Option<ParsedFont>> = OnceLock::new();
    FONT.get_or_init(|| ParsedFont::from_bytes(FONT_BYTES, 0, &mut Vec::new()))
        .as_ref()
        .ok_or(ReceiptRenderError::Font)
}

/// The receipt as PDF bytes, in the receipt's language.
pub fn render_pdf(receipt: &Receipt) -> Result<Vec<u8>, ReceiptRenderError> {
    let view = View::of(receipt);
    let font = font()?;
    let mut doc = PdfDocument::new(&format!("{} {}", view.title, view.number));
    let font_id = doc.add_font(font);
    let mut page = Layout::new(font, font_id);
    draw(&mut page, &view);
    let pages = page.finish();
    let mut warnings = Vec::new();
    let bytes = doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut warnings);
    if !warnings.is_empty() {
        tracing::debug!(count = warnings.len(), "PDF receipt written with warnings");
    }
    Ok(bytes)
}

fn draw(p: &mut Layout<'_>, v: &View) {
    let l = v.labels;
    p.write(MARGIN, 18.0, &v.title);
    p.down(26.0);
    for line in &v.operator {
        p.wrapped(MARGIN, BODY, line, RIGHT - MARGIN);
    }

    p.heading(l.session);
    for (label, value) in &v.session {
        p.field(label, value);
    }

    if !v.unit_prices.is_empty() {
        p.heading(l.unit_prices);
        p.row(l.item, "", l.excl_vat, l.incl_vat);
        for price in &v.unit_prices {
            p.row(
                &format!("{} ({})", price.what, price.vat),
                "",
                &price.excl_vat,
                &price.incl_vat,
            );
        }
    }

    p.heading(l.charges);
    p.row(l.item, l.quantity, l.excl_vat, l.incl_vat);
    for row in &v.charges {
        p.row(&row.item, &row.quantity, &row.excl_vat, &row.incl_vat);
    }
    p.rule();
    for (label, value) in &v.totals {
        p.ensure(BODY * 1.6);
        p.write(MARGIN, BODY, label);
        p.write_right(RIGHT, BODY, value);
        p.down(BODY * 1.5);
    }

    if !v.vat.is_empty() {
        p.heading(l.vat);
        p.row(l.vat_rate, "", l.vat_base, l.vat);
        for (rate, base, vat) in &v.vat {
            p.row(rate, "", base, vat);
        }
    }

    p.heading(l.payment);
    p.wrapped(MARGIN, BODY, &v.payment, RIGHT - MARGIN);

    if !v.signed.is_empty() {
        p.heading(l.signed_data);
        p.wrapped(MARGIN, SMALL + 1.0, l.signed_data_note, RIGHT - MARGIN);
        for block in &v.signed {
            p.down(4.0);
            p.wrapped(MARGIN, SMALL + 1.0, &block.caption, RIGHT - MARGIN);
            p.wrapped(MARGIN, SMALL, &block.data, RIGHT - MARGIN);
        }
    }

    p.down(12.0);
    for (label, value) in &v.footer {
        p.field(label, value);
    }
    if let Some(notice) = &v.complaint_notice {
        p.down(4.0);
        p.wrapped(MARGIN, SMALL + 1.0, notice, RIGHT - MARGIN);
    }
}

/// A cursor moving down A4 pages, starting a new page when one is full.
struct Layout<'f> {
    font: &'f ParsedFont,
    font_id: FontId,
    ops: Vec<Op>,
    pages: Vec<PdfPage>,
    /// Baseline of the next line, from the bottom of the page.
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(font: &'f ParsedFont, font_id: FontId) -> Self {
        Layout {
            font,
            font_id,
            ops: Vec::new(),
            pages: Vec::new(),
            y: PAGE_H - MARGIN,
        }
    }

    fn finish(mut self) -> Vec<PdfPage> {
        self.break_page();
        self.pages
    }

    fn break_page(&mut self) {
        let ops = std::mem::take(&mut self.ops);
        self.pages
            .push(PdfPage::new(Pt(PAGE_W).into(), Pt(PAGE_H).into(), ops));
        self.y = PAGE_H - MARGIN;
    }

    /// Starts a new page unless `height` more fits on this one.
    fn ensure(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.break_page();
        }
    }

    fn down(&mut self, by: f32) {
        self.y -= by;
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        let per_em = f32::from(self.font.units_per_em.max(1));
        let units: u32 = text
            .chars()
            .map(|c| {
                self.font
                    .lookup_glyph_index(c as u32)
                    .and_then(|g| self.font.get_glyph_width(g))
                    .map_or(per_em as u32 / 2, u32::from)
            })
            .sum();
        units as f32 / per_em * size
    }

    fn write(&mut self, x: f32, size: f32, text: &str) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::External(self.font_id.clone()),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(x),
                    y: Pt(self.y),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    fn write_right(&mut self, right: f32, size: f32, text: &str) {
        let x = right - self.width(text, size);
        self.write(x, size, text);
    }

    /// Lines of `text` no wider than `width`, broken at spaces where possible
    /// and anywhere in long tokens (signed meter data has no spaces).
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut current = String::new();
        for word in text.split(' ') {
            let candidate = if current.is_empty() {
                word.to_owned()
            } else {
                format!("{current} {word}")
            };
            if self.width(&candidate, size) <= width {
                current = candidate;
                continue;
            }
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            for c in word.chars() {
                current.push(c);
                if self.width(&current, size) > width {
                    current.pop();
                    lines.push(std::mem::take(&mut current));
                    current.push(c);
                }
            }
        }
        if !current.is_empty() || lines.is_empty() {
            lines.push(current);
        }
        lines
    }

    fn wrapped(&mut self, x: f32, size: f32, text: &str, width: f32) {
        for line in self.wrap(text, size, width) {
            self.ensure(size * 1.4);
            self.write(x, size, &line);
            self.down(size * 1.4);
        }
    }

    fn heading(&mut self, text: &str) {
        self.down(10.0);
        self.ensure(13.0 * 1.6 + BODY * 3.0);
        self.write(MARGIN, 13.0, text);
        // The rule sits just under the heading's baseline.
        self.down(14.0);
        self.rule();
        self.down(9.0);
    }

    fn rule(&mut self) {
        let y = self.y + BODY * 0.9;
        self.ops.extend([
            Op::SetOutlineColor {
                col: Color::Rgb(Rgb {
                    r: 0.7,
                    g: 0.7,
                    b: 0.7,
                    icc_profile: None,
                }),
            },
            Op::SetOutlineThickness { pt: Pt(0.5) },
            Op::DrawLine {
                line: Line {
                    points: vec![
                        LinePoint {
                            p: Point {
                                x: Pt(MARGIN),
                                y: Pt(y),
                            },
                            bezier: false,
                        },
                        LinePoint {
                            p: Point {
                                x: Pt(RIGHT),
                                y: Pt(y),
                            },
                            bezier: false,
                        },
                    ],
                    is_closed: false,
                },
            },
        ]);
        self.down(4.0);
    }

    /// A label and a value that wraps in its own column.
    fn field(&mut self, label: &str, value: &str) {
        let labels = self.wrap(label, BODY, VALUE_X - MARGIN - 8.0);
        let values = self.wrap(value, BODY, RIGHT - VALUE_X);
        for i in 0..labels.len().max(values.len()) {
            self.ensure(BODY * 1.4);
            if let Some(l) = labels.get(i) {
                self.write(MARGIN, BODY, l);
            }
            if let Some(v) = values.get(i) {
                self.write(VALUE_X, BODY, v);
            }
            self.down(BODY * 1.4);
        }
    }

    /// A table row: text, then three right-aligned columns.
    fn row(&mut self, item: &str, a: &str, b: &str, c: &str) {
        let items = self.wrap(item, BODY, 190.0);
        for (i, line) in items.iter().enumerate() {
            self.ensure(BODY * 1.4);
            self.write(MARGIN, BODY, line);
            if i == 0 {
                self.write_right(MARGIN + 300.0, BODY, a);
                self.write_right(MARGIN + 400.0, BODY, b);
                self.write_right(RIGHT, BODY, c);
            }
            self.down(BODY * 1.4);
        }
    }
}
