//! What the payer reads, in Russian, Ukrainian and English. The bill's `locale` chooses; without one the
//! browser's `Accept-Language` does; English otherwise.

use crate::config::Mode;
use paylink_core::bill::Locale;

pub struct Texts {
    pub lang: &'static str,
    /// Heads a bill that has no name of its own: "Bill <id>".
    pub bill: &'static str,
    pub footer: &'static str,
    /// The ribbon on every page in sandbox mode; `None` in live mode.
    pub test_mode: Option<&'static str>,
    pub awaiting: &'static str,
    pub qr_label: &'static str,
    pub pay: &'static str,
    pub scan_hint: &'static str,
    pub method_card: &'static str,
    pub method_sbp: &'static str,
    pub card_number: &'static str,
    pub expiry: &'static str,
    pub expiry_placeholder: &'static str,
    pub holder: &'static str,
    pub card_invalid: &'static str,
    pub expiry_invalid: &'static str,
    pub cvc_invalid: &'static str,
    pub sbp_scan: &'static str,
    pub sbp_open_bank: &'static str,
    pub sbp_waiting: &'static str,
    pub sbp_bank: &'static str,
    pub sbp_amount: &'static str,
    pub sbp_amount_hint: &'static str,
    pub sbp_phone: &'static str,
    pub phone_invalid: &'static str,
    pub sbp_confirm: &'static str,
    pub amount_invalid: &'static str,
    pub acs_bank: &'static str,
    pub acs_heading: &'static str,
    pub acs_text: &'static str,
    pub acs_confirm: &'static str,
    pub acs_fail: &'static str,
    pub continue_: &'static str,
    pub redirecting: &'static str,
    pub to_bank: &'static str,
    pub not_found: &'static str,
    pub not_found_text: &'static str,
    pub bill_paid: &'static str,
    /// Another payer's charge of the bill is under way.
    pub bill_busy: &'static str,
    pub bill_inactive: &'static str,
    pub bill_expired: &'static str,
    pub shop_disabled: &'static str,
    pub merchant_banned: &'static str,
    pub too_many_attempts: &'static str,
    pub unavailable: &'static str,
    pub paid_heading: &'static str,
    pub paid_text: &'static str,
    pub underpaid_text: &'static str,
    pub overpaid_text: &'static str,
    pub failed_heading: &'static str,
    pub failed_text: &'static str,
    pub try_again: &'static str,
    pub back_to_store: &'static str,
    pub payment_no: &'static str,
    pub amount: &'static str,
    pub card: &'static str,
    pub reason: &'static str,
    pub error_text: &'static str,
    pub session_invalid: &'static str,
    /// The permanent link page.
    pub choose_amount: &'static str,
    pub your_amount: &'static str,
    pub quantity: &'static str,
    pub quantity_invalid: &'static str,
    pub total: &'static str,
    pub collected: &'static str,
    pub target: &'static str,
}

pub const EN: Texts = Texts {
    lang: "en",
    bill: "Bill",
    footer: "Secure payment by paylink",
    test_mode: Some("Test mode: no real money moves. Pay with the sandbox's test cards."),
    awaiting: "Awaiting payment.",
    qr_label: "QR code of the payment page",
    pay: "Pay",
    scan_hint: "Scan the code to pay from your phone.",
    method_card: "Bank card",
    method_sbp: "SBP",
    card_number: "Card number",
    expiry: "Valid thru",
    expiry_placeholder: "MM/YY",
    holder: "Cardholder name",
    card_invalid: "Check the card number.",
    expiry_invalid: "Check the expiry date (MM/YY); the card must not have expired.",
    cvc_invalid: "The CVC is the 3 or 4 digits on the back of the card.",
    sbp_scan: "Scan the QR code with your bank's app, or open the bank app on this device.",
    sbp_open_bank: "Open the bank app",
    sbp_waiting: "This page updates by itself once the payment arrives.",
    sbp_bank: "Sandbox bank · SBP transfer",
    sbp_amount: "Amount",
    sbp_amount_hint: "You may change the amount: less than billed is UNDERPAID, more is OVERPAID.",
    sbp_phone: "Your phone, as your bank knows it (optional)",
    phone_invalid: "Enter a Russian mobile number, like +7 999 123-45-67.",
    sbp_confirm: "Confirm transfer",
    amount_invalid: "Enter an amount such as 100 or 100.50.",
    acs_bank: "Sandbox issuer · 3-D Secure",
    acs_heading: "Confirm the payment",
    acs_text: "Your bank asks you to confirm this card payment.",
    acs_confirm: "Confirm",
    acs_fail: "Fail",
    continue_: "Continue",
    redirecting: "Taking you back to the store…",
    to_bank: "Taking you to your bank…",
    not_found: "Bill not found",
    not_found_text: "There is no such bill. Check the link you were given.",
    bill_paid: "This bill has been paid.",
    bill_busy: "This bill is being paid right now. Try again in a couple of minutes if that payment does not go through.",
    bill_inactive: "This bill is not active.",
    bill_expired: "This bill has expired.",
    shop_disabled: "The shop does not accept payments at the moment.",
    merchant_banned: "This merchant cannot accept payments.",
    too_many_attempts: "Too many card payments have been declined. Please try again later.",
    unavailable: "Payment is not available",
    paid_heading: "Payment successful",
    paid_text: "Thank you! The payment has been received.",
    underpaid_text: "The payment was received, but it is less than the bill's amount.",
    overpaid_text: "The payment was received, and it is more than the bill's amount.",
    failed_heading: "Payment failed",
    failed_text: "The payment did not go through.",
    try_again: "Try again",
    back_to_store: "Back to the store",
    payment_no: "Payment",
    amount: "Amount",
    card: "Card",
    reason: "Reason",
    error_text: "Something went wrong on our side. Please try again in a minute.",
    session_invalid: "This payment session is no longer valid. Please start again.",
    choose_amount: "Choose the amount",
    your_amount: "Amount to pay",
    quantity: "Quantity",
    quantity_invalid: "Choose a quantity the link allows.",
    total: "Total",
    collected: "Collected",
    target: "Target",
};

pub const RU: Texts = Texts {
    lang: "ru",
    bill: "Счёт",
    footer: "Безопасная оплата · paylink",
    test_mode: Some("Тестовый режим: настоящие деньги не списываются. Платите тестовыми картами."),
    awaiting: "Ожидает оплаты.",
    qr_label: "QR-код страницы оплаты",
    pay: "Оплатить",
    scan_hint: "Отсканируйте код, чтобы оплатить с телефона.",
    method_card: "Банковская карта",
    method_sbp: "СБП",
    card_number: "Номер карты",
    expiry: "Срок действия",
    expiry_placeholder: "ММ/ГГ",
    holder: "Имя владельца",
    card_invalid: "Проверьте номер карты.",
    expiry_invalid: "Проверьте срок действия (ММ/ГГ); срок карты не должен истечь.",
    cvc_invalid: "CVC — 3 или 4 цифры на обороте карты.",
    sbp_scan:
        "Отсканируйте QR-код в приложении банка или откройте приложение банка на этом устройстве.",
    sbp_open_bank: "Открыть приложение банка",
    sbp_waiting: "Страница обновится сама, когда платёж поступит.",
    sbp_bank: "Тестовый банк · перевод по СБП",
    sbp_amount: "Сумма",
    sbp_amount_hint: "Сумму можно изменить: меньше счёта — UNDERPAID, больше — OVERPAID.",
    sbp_phone: "Ваш телефон, как его знает банк (необязательно)",
    phone_invalid: "Укажите российский мобильный номер, например +7 999 123-45-67.",
    sbp_confirm: "Подтвердить перевод",
    amount_invalid: "Введите сумму, например 100 или 100.50.",
    acs_bank: "Тестовый банк-эмитент · 3-D Secure",
    acs_heading: "Подтвердите платёж",
    acs_text: "Ваш банк просит подтвердить оплату картой.",
    acs_confirm: "Подтвердить",
    acs_fail: "Отклонить",
    continue_: "Продолжить",
    redirecting: "Возвращаем вас в магазин…",
    to_bank: "Переходим на страницу банка…",
    not_found: "Счёт не найден",
    not_found_text: "Такого счёта нет. Проверьте ссылку.",
    bill_paid: "Счёт оплачен.",
    bill_busy: "Этот счёт сейчас оплачивается. Если та оплата не пройдёт, попробуйте снова через пару минут.",
    bill_inactive: "Счёт не активен.",
    bill_expired: "Срок действия счёта истёк.",
    shop_disabled: "Магазин сейчас не принимает платежи.",
    merchant_banned: "Этот продавец не может принимать платежи.",
    too_many_attempts: "Слишком много отклонённых оплат картой. Попробуйте позже.",
    unavailable: "Оплата недоступна",
    paid_heading: "Оплата прошла",
    paid_text: "Спасибо! Платёж получен.",
    underpaid_text: "Платёж получен, но сумма меньше суммы счёта.",
    overpaid_text: "Платёж получен, сумма больше суммы счёта.",
    failed_heading: "Оплата не прошла",
    failed_text: "Платёж не прошёл.",
    try_again: "Попробовать снова",
    back_to_store: "Вернуться в магазин",
    payment_no: "Платёж",
    amount: "Сумма",
    card: "Карта",
    reason: "Причина",
    error_text: "Что-то пошло не так. Попробуйте ещё раз через минуту.",
    session_invalid: "Сессия оплаты больше недействительна. Начните заново.",
    choose_amount: "Выберите сумму",
    your_amount: "Сумма к оплате",
    quantity: "Количество",
    quantity_invalid: "Выберите количество, которое допускает ссылка.",
    total: "Итого",
    collected: "Собрано",
    target: "Цель",
};

pub const UK: Texts = Texts {
    lang: "uk",
    bill: "Рахунок",
    footer: "Безпечна оплата · paylink",
    test_mode: Some("Тестовий режим: справжні гроші не списуються. Платіть тестовими картками."),
    awaiting: "Очікує оплати.",
    qr_label: "QR-код сторінки оплати",
    pay: "Сплатити",
    scan_hint: "Відскануйте код, щоб сплатити з телефона.",
    method_card: "Банківська картка",
    method_sbp: "СБП",
    card_number: "Номер картки",
    expiry: "Термін дії",
    expiry_placeholder: "ММ/РР",
    holder: "Ім'я власника",
    card_invalid: "Перевірте номер картки.",
    expiry_invalid: "Перевірте термін дії (ММ/РР); термін картки не має минути.",
    cvc_invalid: "CVC — 3 або 4 цифри на звороті картки.",
    sbp_scan:
        "Відскануйте QR-код у застосунку банку або відкрийте застосунок банку на цьому пристрої.",
    sbp_open_bank: "Відкрити застосунок банку",
    sbp_waiting: "Сторінка оновиться сама, коли платіж надійде.",
    sbp_bank: "Тестовий банк · переказ через СБП",
    sbp_amount: "Сума",
    sbp_amount_hint: "Суму можна змінити: менше рахунку — UNDERPAID, більше — OVERPAID.",
    sbp_phone: "Ваш телефон, як його знає банк (необов'язково)",
    phone_invalid: "Вкажіть російський мобільний номер, наприклад +7 999 123-45-67.",
    sbp_confirm: "Підтвердити переказ",
    amount_invalid: "Введіть суму, наприклад 100 або 100.50.",
    acs_bank: "Тестовий банк-емітент · 3-D Secure",
    acs_heading: "Підтвердьте платіж",
    acs_text: "Ваш банк просить підтвердити оплату карткою.",
    acs_confirm: "Підтвердити",
    acs_fail: "Відхилити",
    continue_: "Продовжити",
    redirecting: "Повертаємо вас до магазину…",
    to_bank: "Переходимо на сторінку банку…",
    not_found: "Рахунок не знайдено",
    not_found_text: "Такого рахунку немає. Перевірте посилання.",
    bill_paid: "Рахунок сплачено.",
    bill_busy:
        "Цей рахунок зараз оплачують. Якщо та оплата не пройде, спробуйте знову за кілька хвилин.",
    bill_inactive: "Рахунок не активний.",
    bill_expired: "Термін дії рахунку минув.",
    shop_disabled: "Магазин зараз не приймає платежі.",
    merchant_banned: "Цей продавець не може приймати платежі.",
    too_many_attempts: "Забагато відхилених оплат карткою. Спробуйте пізніше.",
    unavailable: "Оплата недоступна",
    paid_heading: "Оплата пройшла",
    paid_text: "Дякуємо! Платіж отримано.",
    underpaid_text: "Платіж отримано, але сума менша за суму рахунку.",
    overpaid_text: "Платіж отримано, сума більша за суму рахунку.",
    failed_heading: "Оплата не пройшла",
    failed_text: "Платіж не пройшов.",
    try_again: "Спробувати знову",
    back_to_store: "Повернутися до магазину",
    payment_no: "Платіж",
    amount: "Сума",
    card: "Картка",
    reason: "Причина",
    error_text: "Щось пішло не так. Спробуйте ще раз за хвилину.",
    session_invalid: "Сесія оплати більше недійсна. Почніть знову.",
    choose_amount: "Оберіть суму",
    your_amount: "Сума до сплати",
    quantity: "Кількість",
    quantity_invalid: "Оберіть кількість, яку дозволяє посилання.",
    total: "Разом",
    collected: "Зібрано",
    target: "Ціль",
};

/// The texts of live mode: no ribbon.
const EN_LIVE: Texts = Texts {
    test_mode: None,
    ..EN
};
const RU_LIVE: Texts = Texts {
    test_mode: None,
    ..RU
};
const UK_LIVE: Texts = Texts {
    test_mode: None,
    ..UK
};

/// The bill's locale, else the browser's preference between Russian and English; in `mode`
/// (the sandbox's texts carry the "Test mode" ribbon).
pub fn choose(mode: Mode, locale: Option<Locale>, accept_language: Option<&str>) -> &'static Texts {
    let language = language(locale, accept_language);
    match (mode, language.lang) {
        (Mode::Sandbox, _) => language,
        (Mode::Live, "ru") => &RU_LIVE,
        (Mode::Live, "uk") => &UK_LIVE,
        (Mode::Live, _) => &EN_LIVE,
    }
}

fn language(locale: Option<Locale>, accept_language: Option<&str>) -> &'static Texts {
    match locale {
        Some(Locale::Ru) => return &RU,
        Some(Locale::En) => return &EN,
        Some(Locale::Uk) => return &UK,
        None => {}
    }
    let mut best: (u32, &'static Texts) = (0, &EN);
    for part in accept_language.unwrap_or("").split(',') {
        let mut bits = part.trim().split(';');
        let tag = bits.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = bits
            .find_map(|b| b.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .map_or(1000, |q| (q.clamp(0.0, 1.0) * 1000.0) as u32);
        let texts = if tag == "ru" || tag.starts_with("ru-") {
            &RU
        } else if tag == "uk" || tag.starts_with("uk-") {
            &UK
        } else if tag == "en" || tag.starts_with("en-") {
            &EN
        } else {
            continue;
        };
        if q > best.0 {
            best = (q, texts);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(locale: Option<Locale>, accept_language: Option<&str>) -> &'static Texts {
        language(locale, accept_language)
    }

    #[test]
    fn the_bill_locale_wins_then_the_preferred_language() {
        assert_eq!(choose(Some(Locale::Ru), Some("en")).lang, "ru");
        assert_eq!(choose(Some(Locale::En), Some("ru")).lang, "en");
        assert_eq!(choose(Some(Locale::Uk), Some("en")).lang, "uk");
        assert_eq!(choose(None, Some("uk-UA,en;q=0.5")).lang, "uk");
        assert_eq!(choose(None, Some("ru-RU,ru;q=0.9,en;q=0.8")).lang, "ru");
        assert_eq!(choose(None, Some("de-DE,en;q=0.5,ru;q=0.7")).lang, "ru");
        assert_eq!(choose(None, Some("en-GB,ru;q=0.2")).lang, "en");
        assert_eq!(choose(None, Some("de")).lang, "en");
        assert_eq!(choose(None, None).lang, "en");
    }

    #[test]
    fn only_the_sandbox_says_test_mode() {
        for locale in [Some(Locale::Ru), Some(Locale::En), Some(Locale::Uk), None] {
            assert!(super::choose(Mode::Sandbox, locale, None)
                .test_mode
                .is_some());
            assert!(super::choose(Mode::Live, locale, None).test_mode.is_none());
        }
        assert_eq!(super::choose(Mode::Live, Some(Locale::Ru), None).lang, "ru");
    }
}
