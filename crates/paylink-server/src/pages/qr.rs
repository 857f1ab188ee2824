//! QR codes: of the payment page on the share page, and the SBP payment link.

use super::*;

pub(crate) fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(220, 220)
                .quiet_zone(true)
                .build();
            // Inline in HTML: drop the XML declaration.
            match svg.find("<svg") {
                Some(at) => svg[at..].to_string(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

/// CRC-16/CCITT-FALSE, the checksum an SBP QR link ends with.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The SBP QR payload, in the form of a dynamic NSPK link (`type=02`) but pointing at the
/// sandbox bank, which is the bank that pays it here.
pub(crate) fn sbp_payload(st: &AppState, c: &Checkout, qrc: &str) -> String {
    let base = format!(
        "{}/sandbox/sbp/{}?qrc={qrc}&type=02&bank=100000000111&sum={}&cur={}",
        st.settings.public_url,
        c.bill.id,
        quote(st, c),
        c.bill.currency.code()
    );
    let crc = crc16(base.as_bytes());
    format!("{base}&crc={crc:04X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_is_ccitt_false() {
        // The standard check value of CRC-16/CCITT-FALSE.
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }
}
