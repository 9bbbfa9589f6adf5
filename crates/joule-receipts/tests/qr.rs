//! QR codes decode back to their URL with an independent decoder (rqrr).

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use joule_receipts::{qr_png, qr_svg, QrError};

fn decode_png(bytes: &[u8]) -> Vec<String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    img.detect_grids()
        .iter()
        .map(|g| g.decode().unwrap().1)
        .collect()
}

#[test]
fn png_decodes_to_the_pay_page_url() {
    for url in [
        "https://pay.joule.example/pay/CP-0001/2",
        "https://joule.example/r/8f14e45fceea167a5a36dedd4bea2543?lang=fr&x=%C3%A9",
    ] {
        let png = qr_png(url).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(decode_png(&png), vec![url.to_owned()]);
    }
}

/// Paints the SVG's module squares (`M{x} {y}h{s}v{s}H..V..`) onto a
/// greyscale canvas and decodes that.
fn decode_svg(svg: &str) -> Vec<String> {
    let size: usize = svg
        .split("width=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut canvas = vec![255u8; size * size];
    for square in path.split('M').filter(|s| !s.is_empty()) {
        let (xy, rest) = square.split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let side: usize = rest.split('v').next().unwrap().parse().unwrap();
        for row in y..y + side {
            canvas[row * size + x..row * size + x + side].fill(0);
        }
    }
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| canvas[y * size + x]);
    img.detect_grids()
        .iter()
        .map(|g| g.decode().unwrap().1)
        .collect()
}

#[test]
fn svg_decodes_to_the_url() {
    let url = "https://pay.joule.example/pay/CP-0001/1";
    let svg = qr_svg(url).unwrap();
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("</svg>"));
    assert_eq!(decode_svg(&svg), vec![url.to_owned()]);
}

#[test]
fn an_overlong_url_is_an_error_not_a_panic() {
    let url = format!("https://x.example/{}", "a".repeat(5_000));
    assert!(matches!(qr_png(&url), Err(QrError::TooLong)));
    assert!(matches!(qr_svg(&url), Err(QrError::TooLong)));
}
