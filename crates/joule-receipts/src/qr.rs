//! QR code images of a URL: the sticker on a connector that opens its pay
//! page, and the code a charger shows with FinalCost that opens the receipt.
//!
//! Error correction level M (15 %): stickers get scratched. A four-module
//! quiet zone, as ISO/IEC 18004 requires, so phones read it on any background.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module in the PNG: 8 gives ~300 px for a typical URL, sharp
/// on a phone and on a printed sticker.
const MODULE_PX: usize = 8;
const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The URL does not fit in a QR code (about 2 300 bytes at level M).
    #[error("the URL is too long for a QR code")]
    TooLong,
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

fn code(url: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).map_err(|_| QrError::TooLong)
}

/// The QR code of `url` as a black-on-white 8-bit greyscale PNG.
pub fn qr_png(url: &str) -> Result<Vec<u8>, QrError> {
    let code = code(url)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * MODULE_PX;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * MODULE_PX..(my + 1) * MODULE_PX {
            let row = y * side;
            pixels[row + mx * MODULE_PX..row + (mx + 1) * MODULE_PX].fill(0);
        }
    }
    let side_u32 = u32::try_from(side).map_err(|_| QrError::TooLong)?;
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
    }
    Ok(out)
}

/// The QR code of `url` as an SVG document (scales to any print size).
pub fn qr_svg(url: &str) -> Result<String, QrError> {
    Ok(code(url)?
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(256, 256)
        .build())
}
