//! Cardholder validation (Card API `external/cardholder_validate`): how closely the first name,
//! last name and phone a partner sends match the card's client, as a score in basis points and
//! a `fishy` flag.
//!
//! Method:
//! - **Names** are reduced to a phonetic key: the first [`MAX_NAME_CHARS`] characters, lower
//!   case, diacritics and combining marks dropped, apostrophes (Ukrainian `ʼ`) removed, other
//!   non-letters (spaces, hyphens) splitting words; Cyrillic (Russian, Ukrainian, Kazakh, ...)
//!   transliterated to Latin; then spellings of one sound folded to one symbol (`shch`/`sch`/
//!   `sh`/`š`, `zh`/`ž`, `ch`/`tch`/`č`, `kh`, `ts`/`tz`/`c`, `x` = `ks`, `h` = `g` for Ukrainian
//!   `Oleh`/`Oleg`, `y`/`j`/`i` alike, `w` = `v`, `ph` = `f`, `ou`/`oo` = `u`), doubled symbols
//!   collapsed, `yo`/`ie` after a consonant read as `e` (`Fyodor`/`Фёдор`), and an `i`-glide
//!   dropped at a word start or between vowels (`Yulia`, `Julia`, `Iuliia`, `Юлия` all become
//!   `ulia`).
//! - Two keys are compared with a Levenshtein distance where swapping one vowel for another
//!   costs half, normalised by the longer key: 100% for equal keys, 0% for an empty one.
//! - **Phones** are compared as digits in one canonical form (`8 999…`, `+7 999…`, `999…` are
//!   one Russian/Kazakh number; `0 67…`, `80 67…`, `+380 67…` one Ukrainian number): the same
//!   number scores 100%, and so does a number one of whose forms ends with the other's full
//!   digits (at least 9 of them, a number written without its country code); any other pair
//!   gets at most 50%, in proportion to the trailing digits they share.
//! - The total weighs last name 40%, first name 30%, phone 30%. First and last name given the
//!   other way round, or the whole name in one field, are compared too and count at 95%.
//!
//! The same person, also spelled in the other alphabet or with the phone in another format,
//! scores at least 90%; a different person below 50%, which is [`Score::fishy`]. Empty fields
//! count as a mismatch: absence is no evidence of identity.
//!
//! Work is bounded whatever the input: names are cut to [`MAX_NAME_CHARS`] characters and
//! phones to [`MAX_PHONE_CHARS`] before anything else, so the quadratic distance stays small.

/// Characters of each name considered; the rest is ignored.
pub const MAX_NAME_CHARS: usize = 64;
/// Characters of each phone considered; the rest is ignored.
pub const MAX_PHONE_CHARS: usize = 64;
/// Below this many basis points (50%) a match is fishy.
pub const FISHY_BELOW: u32 = 5_000;

/// Longest key compared, in symbols: a capped name may still grow (`x` → `ks`, `ß` → `ss`),
/// and this cut keeps the distance cheap whatever it holds.
const MAX_KEY: usize = 2 * MAX_NAME_CHARS;
/// Shortest run of trailing digits that identifies a number written without its prefix.
const SAME_NUMBER_SUFFIX: usize = 9;

/// The person a partner names, or the card's client as recorded. Borrowed: the score is
/// computed from request and stored fields without copying them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone: &'a str,
}

/// How well two persons match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// 0..=10000, i.e. hundredths of a percent.
    pub basis_points: u32,
    /// The match is poor (below [`FISHY_BELOW`]).
    pub fishy: bool,
}

impl Score {
    fn new(basis_points: u32) -> Score {
        let basis_points = basis_points.min(10_000);
        Score {
            basis_points,
            fishy: basis_points < FISHY_BELOW,
        }
    }

    /// The score as the API shows it: always two decimals and a percent sign, `"87.50%"`.
    pub fn percent_text(&self) -> String {
        format!(
            "{}.{:02}%",
            self.basis_points / 100,
            self.basis_points % 100
        )
    }
}

/// How well the person a partner names (`given`) matches the card's client (`card_holder`).
/// Symmetric, and never panics.
pub fn score(given: &Person, card_holder: &Person) -> Score {
    let (gf, gl) = (name_key(given.first_name), name_key(given.last_name));
    let (hf, hl) = (
        name_key(card_holder.first_name),
        name_key(card_holder.last_name),
    );

    // Weighted sums in basis points times 100 (the weights are percents).
    let direct = 40 * similarity(&gl, &hl) + 30 * similarity(&gf, &hf);
    let swapped = 35 * similarity(&gf, &hl) + 35 * similarity(&gl, &hf);
    // Either order of either whole name, so that the score stays symmetric.
    let wholes = |f: &[char], l: &[char]| [[f, l].concat(), [l, f].concat()];
    let (given_wholes, holder_wholes) = (wholes(&gf, &gl), wholes(&hf, &hl));
    let whole = given_wholes
        .iter()
        .flat_map(|g| holder_wholes.iter().map(move |h| similarity(g, h)))
        .max()
        .unwrap_or(0)
        * 70;
    let names = direct.max(swapped * 95 / 100).max(whole * 95 / 100);

    let phones = 30 * phone_similarity(given.phone, card_holder.phone);
    Score::new((names + phones) / 100)
}

/// Similarity of two keys in basis points: 10000 when equal, 0 when either is empty.
fn similarity(a: &[char], b: &[char]) -> u32 {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    let worst = 2 * a.len().max(b.len());
    let distance = distance(a, b).min(worst);
    (10_000 - distance * 10_000 / worst) as u32
}

/// Levenshtein distance in half steps: inserting, deleting or replacing a symbol costs 2,
/// replacing a vowel by another vowel 1 (`Oleksandr`/`Aleksandr`, `Sergei`/`Serhii`).
fn distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).map(|j| 2 * j).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        current[0] = 2 * (i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let replace = if ca == cb {
                0
            } else if is_vowel(ca) && is_vowel(cb) {
                1
            } else {
                2
            };
            current[j + 1] = (previous[j] + replace)
                .min(previous[j + 1] + 2)
                .min(current[j] + 2);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// The phonetic key of a name: its words' keys one after another (see the module doc).
fn name_key(name: &str) -> Vec<char> {
    let mut letters: Vec<char> = Vec::new();
    for c in name
        .chars()
        .take(MAX_NAME_CHARS)
        .flat_map(char::to_lowercase)
    {
        if !is_ignorable(c) {
            letters.push(c);
        }
    }

    let mut key = Vec::new();
    let mut word = String::new();
    for (i, &c) in letters.iter().enumerate() {
        if let Some(latin) = cyrillic(c, letters.get(i + 1).copied()) {
            word.push_str(latin);
        } else if let Some(latin) = latin_folded(c) {
            word.push_str(latin);
        } else if c.is_alphabetic() {
            // Other scripts are compared as they are.
            word.push(c);
        } else {
            word_key(&word, &mut key);
            word.clear();
        }
    }
    word_key(&word, &mut key);
    key.truncate(MAX_KEY);
    key
}

/// Characters that vanish without splitting a word: combining marks, apostrophes (`Мар'яна`),
/// invisible joiners and soft hyphens.
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\'' | '`' | '\u{00B4}' | '\u{02B9}' | '\u{02BB}' | '\u{02BC}'
        | '\u{2018}' | '\u{2019}' | '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{FEFF}')
}

/// A lower-case Cyrillic letter in Latin; `next` decides the soft and hard signs, which sound
/// as `y` before a vowel (`Наталья`, `Григорьева`) and not at all otherwise.
fn cyrillic(c: char, next: Option<char>) -> Option<&'static str> {
    Some(match c {
        'а' | 'ә' => "a",
        'б' => "b",
        'в' => "v",
        'г' | 'ґ' | 'ғ' | 'ѓ' => "g",
        'д' => "d",
        'е' | 'ё' | 'э' => "e",
        'є' => "ye",
        'ж' | 'җ' => "zh",
        'з' => "z",
        'и' | 'і' => "i",
        'ї' => "yi",
        'й' | 'ы' => "y",
        'ј' => "j",
        'к' | 'қ' | 'ќ' => "k",
        'л' => "l",
        'љ' => "lj",
        'м' => "m",
        'н' | 'ң' => "n",
        'њ' => "nj",
        'о' | 'ө' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' | 'ұ' | 'ү' | 'ў' => "u",
        'ф' => "f",
        'х' => "kh",
        'һ' | 'ҳ' => "h",
        'ц' => "ts",
        'ч' | 'ћ' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ђ' => "dj",
        'џ' | 'ѕ' => "dz",
        'ь' | 'ъ' => match next {
            Some('а' | 'е' | 'ё' | 'и' | 'о' | 'у' | 'ю' | 'я' | 'є' | 'і' | 'ї') => "y",
            _ => "",
        },
        'ю' => "yu",
        'я' => "ya",
        _ => return None,
    })
}

/// A lower-case Latin letter without its diacritics, keeping the sound of the Slavic ones
/// (`Ševčenko`, `Žukov`).
fn latin_folded(c: char) -> Option<&'static str> {
    Some(match c {
        'a'..='z' => return None,
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' => "c",
        'č' => "ch",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' => "s",
        'š' => "sh",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' => "z",
        'ž' => "zh",
        _ => return None,
    })
}

/// Appends the key of one word (lower-case, mostly Latin) to `key`.
fn word_key(word: &str, key: &mut Vec<char>) {
    let chars: Vec<char> = word.chars().collect();
    let mut symbols: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        let starts = |s: &str| rest.len() >= s.len() && s.chars().zip(rest).all(|(a, &b)| a == b);
        let (symbol, used): (&[char], usize) = if starts("shch") {
            (&['S'], 4)
        } else if starts("tsch") {
            (&['C'], 4)
        } else if starts("sch") {
            (&['S'], 3)
        } else if starts("tch") {
            (&['C'], 3)
        } else if starts("sh") || starts("sz") {
            (&['S'], 2)
        } else if starts("zh") {
            (&['Z'], 2)
        } else if starts("ch") || starts("cz") {
            (&['C'], 2)
        } else if starts("kh") {
            (&['x'], 2)
        } else if starts("gh") {
            (&['g'], 2)
        } else if starts("ph") {
            (&['f'], 2)
        } else if starts("th") {
            (&['t'], 2)
        } else if starts("ts") || starts("tz") || starts("tc") {
            (&['c'], 2)
        } else if starts("ck") {
            (&['k'], 2)
        } else if starts("ou") || starts("oo") {
            (&['u'], 2)
        } else {
            let symbol: &[char] = match rest[0] {
                'x' => &['k', 's'],
                'h' => &['g'],
                'q' => &['k'],
                'w' => &['v'],
                'j' | 'y' => &['i'],
                _ => std::slice::from_ref(&rest[0]),
            };
            (symbol, 1)
        };
        symbols.extend_from_slice(symbol);
        i += used;
    }

    symbols.dedup();
    // After a consonant `yo`, `io`, `ie` are how `ё` and `ье` get written (`Fyodor`/`Фёдор`,
    // `Solovyov`/`Соловьёв`, `Grigorieva`/`Григорьева`): all one `e`.
    let mut softened = Vec::with_capacity(symbols.len());
    let mut i = 0;
    while i < symbols.len() {
        let after_consonant = i > 0 && !is_vowel(symbols[i - 1]);
        if symbols[i] == 'i' && after_consonant && matches!(symbols.get(i + 1), Some('o' | 'e')) {
            softened.push('e');
            i += 2;
        } else {
            softened.push(symbols[i]);
            i += 1;
        }
    }
    let symbols = softened;
    // An i-glide at a word start or between vowels is spelled y, j, i or not at all.
    let mut glided = Vec::with_capacity(symbols.len());
    for (i, &s) in symbols.iter().enumerate() {
        let after_vowel = i == 0 || is_vowel(symbols[i - 1]);
        let before_vowel = symbols.get(i + 1).is_some_and(|&n| is_vowel(n));
        if !(s == 'i' && after_vowel && before_vowel) {
            glided.push(s);
        }
    }
    glided.dedup();
    key.extend(glided);
}

/// Similarity of two phones in basis points (see the module doc).
fn phone_similarity(a: &str, b: &str) -> u32 {
    let (raw_a, raw_b) = (digits(a), digits(b));
    if raw_a.is_empty() || raw_b.is_empty() {
        return 0;
    }
    let (canon_a, canon_b) = (canonical(&raw_a), canonical(&raw_b));
    if canon_a == canon_b {
        return 10_000;
    }
    let mut best = 0;
    for (x, y) in [(&canon_a, &canon_b), (&raw_a, &raw_b)] {
        let shared = x
            .iter()
            .rev()
            .zip(y.iter().rev())
            .take_while(|(p, q)| p == q)
            .count();
        if shared >= SAME_NUMBER_SUFFIX && shared == x.len().min(y.len()) {
            return 10_000;
        }
        best = best.max((5_000 * shared / x.len().max(y.len())) as u32);
    }
    best
}

fn digits(phone: &str) -> Vec<u8> {
    phone
        .chars()
        .take(MAX_PHONE_CHARS)
        .filter(char::is_ascii_digit)
        .map(|c| c as u8)
        .collect()
}

/// One written form of a number: international, without `00`/`810` exit codes, with the
/// Russian/Kazakh trunk `8` as `7` and the Ukrainian trunk `0` under `380`.
fn canonical(digits: &[u8]) -> Vec<u8> {
    let d = if digits.len() > 11 && digits.starts_with(b"00") {
        &digits[2..]
    } else if digits.len() > 12 && digits.starts_with(b"810") {
        &digits[3..]
    } else {
        digits
    };
    match (d.len(), d.first(), d.get(1)) {
        (11, Some(b'8'), Some(b'0')) => [b"3", d].concat(),
        (11, Some(b'8'), _) => [b"7", &d[1..]].concat(),
        (10, Some(b'0'), _) => [b"38", d].concat(),
        (10, _, _) => [b"7", d].concat(),
        _ => d.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const fn p<'a>(first_name: &'a str, last_name: &'a str, phone: &'a str) -> Person<'a> {
        Person {
            first_name,
            last_name,
            phone,
        }
    }

    fn key(name: &str) -> String {
        name_key(name).into_iter().collect()
    }

    /// The same person, written differently: each pair scores at least 90% and is not fishy.
    const SAME: &[(Person, Person)] = &[
        (
            p("Иван", "Петров", "+7 999 123-45-67"),
            p("Ivan", "Petrov", "89991234567"),
        ),
        (
            p("Олександр", "Шевченко", "+380 67 123 4567"),
            p("Oleksandr", "Shevchenko", "067 123 45 67"),
        ),
        (
            p("Олександр", "Шевченко", "+380671234567"),
            p("Aleksandr", "Shevchenko", "+380671234567"),
        ),
        (
            p("Юлия", "Иванова", "79991234567"),
            p("Yulia", "Ivanova", "7 (999) 123 45 67"),
        ),
        (
            p("Юлия", "Иванова", "79991234567"),
            p("Julia", "Ivanova", "79991234567"),
        ),
        (
            p("Юлія", "Іванова", "+380501234567"),
            p("Iuliia", "Ivanova", "80501234567"),
        ),
        (
            p("Сергей", "Щербаков", "+79161112233"),
            p("Sergey", "Shcherbakov", "+79161112233"),
        ),
        (
            p("Сергій", "Щербаков", "+79161112233"),
            p("Sergei", "Scherbakov", "9161112233"),
        ),
        (
            p("Ксения", "Кузнецова", "+79035550011"),
            p("Kseniya", "Kuznetsova", "+7 903 555-00-11"),
        ),
        (
            p("Ксения", "Кузнецова", "+79035550011"),
            p("Xenia", "Kuznetsova", "89035550011"),
        ),
        (
            p("Айгерім", "Сәрсенбаева", "+7 701 123 45 67"),
            p("Aigerim", "Sarsenbayeva", "8 (701) 123-45-67"),
        ),
        (
            p("Ерлан", "Нұрғалиев", "+77012223344"),
            p("Yerlan", "Nurgaliyev", "7012223344"),
        ),
        (
            p("Олег", "Ковальчук", "+380931112233"),
            p("Oleh", "Kovalchuk", "+380 93 111 22 33"),
        ),
        (
            p("Наталья", "Ковалёва", "+79990001122"),
            p("Natalia", "Kovaleva", "+79990001122"),
        ),
        (
            p("Алексей", "Михайлов", "+79990001122"),
            p("Alexey", "Mikhaylov", "+79990001122"),
        ),
        (
            p("Мар'яна", "Дем'яненко", "+380671234567"),
            p("Maryana", "Demianenko", "+380671234567"),
        ),
        (
            p("Марʼяна", "Демʼяненко", "+380671234567"),
            p("Mar'yana", "Dem`yanenko", "0671234567"),
        ),
        (
            p("Фёдор", "Королёв", "+79990001122"),
            p("Федор", "Королев", "+79990001122"),
        ),
        (
            p("Татьяна", "Григорьева", "+79990001122"),
            p("Tatiana", "Grigorieva", "+79990001122"),
        ),
        (
            p("Евгений", "Жуков", "+79990001122"),
            p("Yevgeny", "Zhukov", "+79990001122"),
        ),
        (
            p("Дмитрий", "Кузьмин", "+79990001122"),
            p("DMITRY", "KUZMIN", "+79990001122"),
        ),
        (
            p("Анна", "Петрова-Водкина", "+79990001122"),
            p("Anna", "Petrova Vodkina", "+79990001122"),
        ),
        (
            p("José", "García", "+34 612 345 678"),
            p("Jose", "Garcia", "0034612345678"),
        ),
        (
            p("Taras", "Ševčenko", "+380671234567"),
            p("Тарас", "Шевченко", "+380671234567"),
        ),
        // Spellings whose keys differ a little.
        (
            p("Александр", "Шевченко", "+380671234567"),
            p("Alexander", "Schewtschenko", "+380671234567"),
        ),
        (
            p("Андрій", "Коваленко", "+380671234567"),
            p("Andrey", "Kovalenko", "+380671234567"),
        ),
        (
            p("Фёдор", "Королёв", "+79990001122"),
            p("Fyodor", "Korolyov", "+79990001122"),
        ),
        (
            p("Михайло", "Грищенко", "+380671234567"),
            p("Mykhailo", "Hryshchenko", "+380671234567"),
        ),
        (
            p("Ольга", "Ткаченко", "+380671234567"),
            p("Olha", "Tkachenko", "+380671234567"),
        ),
        // First and last name the other way round.
        (
            p("Petrov", "Ivan", "+79991234567"),
            p("Иван", "Петров", "89991234567"),
        ),
        // The whole name in one field.
        (
            p("Ivan Petrov", "", "+79991234567"),
            p("Иван", "Петров", "89991234567"),
        ),
    ];

    /// Different persons: each pair scores below 50% and is fishy.
    const DIFFERENT: &[(Person, Person)] = &[
        (
            p("Ivan", "Petrov", "+79991234567"),
            p("Maria", "Sidorova", "+79161112233"),
        ),
        (
            p("Иван", "Петров", "+79991234567"),
            p("Петр", "Иванов", "+79035550011"),
        ),
        (
            p("Olga", "Smirnova", "+77011234567"),
            p("Aigerim", "Sarsenbayeva", "+77057654321"),
        ),
        (
            p("Сергей", "Щербаков", "+79161112233"),
            p("Andrei", "Sokolov", "+79265554433"),
        ),
        (
            p("Oleksandr", "Shevchenko", "+380671234567"),
            p("Dmytro", "Bondarenko", "+380501112233"),
        ),
        (
            p("John", "Smith", "+15551234567"),
            p("Ерлан", "Нұрғалиев", "+77012223344"),
        ),
        (
            p("Юлия", "Иванова", "+79990001122"),
            p("Ксения", "Кузнецова", "+79035550011"),
        ),
        (
            p("Anna", "Popova", "+79161234567"),
            p("Elena", "Volkova", "+79267654321"),
        ),
        (
            p("Alexey", "Mikhaylov", "+79990001122"),
            p("Nikolai", "Fedorov", "+79031234455"),
        ),
        (
            p("Natalia", "Kovaleva", "+79990001122"),
            p("Tatiana", "Grigorieva", "+79165556677"),
        ),
        (
            p("Олег", "Ковальчук", "+380931112233"),
            p("Мар'яна", "Дем'яненко", "+380671234567"),
        ),
        (
            p("Yerlan", "Nurgaliyev", "+77012223344"),
            p("Taras", "Bulba", "+380631112244"),
        ),
        (
            p("😀😀", "🙃", "+00000"),
            p("Ivan", "Petrov", "+79991234567"),
        ),
        (p("", "", ""), p("Ivan", "Petrov", "+79991234567")),
    ];

    fn table(pairs: &[(Person, Person)]) -> String {
        pairs
            .iter()
            .map(|(a, b)| {
                format!(
                    "{} {} {} | {} {} {} | {}\n",
                    a.first_name,
                    a.last_name,
                    a.phone,
                    b.first_name,
                    b.last_name,
                    b.phone,
                    score(a, b).percent_text()
                )
            })
            .collect()
    }

    #[test]
    fn the_same_person_in_either_alphabet_and_any_phone_format_scores_at_least_90() {
        for (a, b) in SAME {
            let s = score(a, b);
            assert!(
                s.basis_points >= 9_000 && !s.fishy,
                "{a:?} vs {b:?}: {s:?}\n{}",
                table(SAME)
            );
        }
        println!("{}", table(SAME));
    }

    #[test]
    fn a_different_person_scores_below_50_and_is_fishy() {
        for (a, b) in DIFFERENT {
            let s = score(a, b);
            assert!(
                s.basis_points < 5_000 && s.fishy,
                "{a:?} vs {b:?}: {s:?}\n{}",
                table(DIFFERENT)
            );
        }
        println!("{}", table(DIFFERENT));
    }

    #[test]
    fn the_same_first_name_with_another_last_name_and_phone_stays_below_90() {
        let holder = p("Иван", "Петров", "+79991234567");
        for other in [
            p("Ivan", "Sidorov", "+79161112233"),
            p("Ivan", "Petrova", "+79161112233"),
            p("Ivan", "Petrovsky", "+78991234567"),
            p("Иван", "Петренко", "+380991234567"),
        ] {
            let s = score(&other, &holder);
            println!("{other:?}: {}", s.percent_text());
            assert!(s.basis_points < 9_000, "{other:?}: {s:?}");
        }
    }

    #[test]
    fn the_same_name_with_another_phone_is_doubtful_but_not_fishy() {
        let s = score(
            &p("Ivan", "Petrov", "+79161112233"),
            &p("Иван", "Петров", "+79991234567"),
        );
        assert_eq!(s.basis_points, 7_000);
        assert!(!s.fishy);
    }

    #[test]
    fn transliterated_spellings_share_one_key() {
        for group in [
            &["Иван", "Ivan", "IVAN"][..],
            &["Шевченко", "Shevchenko", "Ševčenko", "Schewtschenko"],
            &["Юлия", "Юлія", "Yulia", "Julia", "Iuliia", "Yuliya"],
            &["Щербаков", "Shcherbakov", "Scherbakov", "Ščerbakov"],
            &["Ксения", "Kseniya", "Xenia", "Ksenia"],
            &["Олег", "Oleg", "Oleh"],
            &["Алексей", "Alexey", "Aleksei", "Alexei", "Aleksey"],
            &["Наталья", "Natalia", "Natalya", "Nataliya"],
            &["Мар'яна", "Марʼяна", "Maryana", "Mariana", "Mar’yana"],
            &["Хабаров", "Khabarov"],
            &["Цветков", "Tsvetkov", "Tzvetkov"],
            &["Ёлкин", "Елкин", "Е\u{0308}лкин"],
            &["Фёдор", "Федор", "Fyodor", "Fedor", "Fiodor"],
            &["Соловьёв", "Solovyov", "Solovyev", "Solov'ev", "Соловьев"],
            &["Григорьева", "Grigorieva", "Grigoryeva", "Grigoreva"],
            &["Петрова-Водкина", "Petrova Vodkina", "PETROVA  VODKINA"],
        ] {
            let keys: Vec<String> = group.iter().map(|n| key(n)).collect();
            assert!(keys.iter().all(|k| *k == keys[0]), "{group:?}: {keys:?}");
        }
    }

    #[test]
    fn every_written_form_of_one_number_is_the_same_number() {
        for group in [
            &[
                "+7 999 123-45-67",
                "89991234567",
                "79991234567",
                "7 (999) 123 45 67",
                "9991234567",
                "8-999-123-45-67",
                "0079991234567",
                "81079991234567",
            ][..],
            &["+7 701 123 45 67", "8 (701) 123-45-67", "7011234567"],
            &[
                "+380 67 123 4567",
                "380671234567",
                "067 123 45 67",
                "80671234567",
            ],
            &["+1 555 123 4567", "5551234567"],
        ] {
            for a in group {
                for b in group {
                    assert_eq!(phone_similarity(a, b), 10_000, "{a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn other_numbers_get_at_most_half_for_shared_trailing_digits() {
        assert_eq!(phone_similarity("+79991234567", "+79161112233"), 0);
        // A typo in the last digit leaves nothing trailing to share.
        assert_eq!(phone_similarity("+79991234567", "+79991234568"), 0);
        let close = phone_similarity("+79991234567", "+79881234567");
        assert!(close > 0 && close < 5_000, "{close}");
        // A Russian and a Ukrainian number with the same national digits differ.
        assert!(phone_similarity("+79991234567", "+380991234567") < 5_000);
        assert!(phone_similarity("1234567", "+79991234567") < 5_000);
    }

    #[test]
    fn empty_fields_count_as_a_mismatch() {
        let ivan = p("Ivan", "Petrov", "+79991234567");
        let empty = p("", "", "");
        assert_eq!(score(&empty, &empty).basis_points, 0);
        assert_eq!(score(&empty, &ivan).basis_points, 0);
        assert_eq!(score(&ivan, &empty).basis_points, 0);
        assert_eq!(
            score(&p("Ivan", "Petrov", ""), &ivan).basis_points,
            7_000,
            "names only"
        );
        assert_eq!(
            score(&p("", "", "8 999 123 45 67"), &ivan).basis_points,
            3_000,
            "phone only"
        );
        assert_eq!(score(&p(" - ' ", "!!", "abc"), &ivan).basis_points, 0);
    }

    #[test]
    fn the_score_reads_as_a_percent_with_two_decimals() {
        let text = |bp| Score::new(bp).percent_text();
        assert_eq!(text(8_750), "87.50%");
        assert_eq!(text(10_000), "100.00%");
        assert_eq!(text(0), "0.00%");
        assert_eq!(text(5), "0.05%");
        assert_eq!(text(4_999), "49.99%");
        assert!(Score::new(4_999).fishy);
        assert!(!Score::new(5_000).fishy);
    }

    #[test]
    fn only_the_first_characters_of_long_input_count() {
        let name = "Иван".repeat(16); // 64 characters
        let phone = "+79991234567";
        let short = p(&name, &name, phone);
        let long_first = format!("{name}{}", "Щ".repeat(100_000));
        let long_phone = format!("{phone}{}", " ".repeat(MAX_PHONE_CHARS));
        let long = p(&long_first, &long_first, &long_phone);
        assert_eq!(score(&long, &short).basis_points, 10_000);
        let hostile = "ẍ̸̢̛̗̺͍̎".repeat(50_000);
        let s = score(&p(&hostile, &hostile, &hostile), &long);
        assert!(s.basis_points <= 10_000);
    }

    #[test]
    fn hostile_strings_never_panic_and_stay_in_range() {
        // A deterministic walk over troublesome characters, in many combinations.
        let alphabet: Vec<char> =
            "aAяЯёЁїЇґҐәӘьЪ'ʼ`-\u{0}\u{7}\u{1b}\u{301}\u{308}\u{200d}\u{feff}\
                                   😀👨‍👩‍👧İßﬁǅ0189+()\u{10ffff}\u{fffd}ŉΐ\t\n "
                .chars()
                .collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2_000 {
            let mut text = || -> String {
                let len = (next() % 80) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            };
            let (a, b, c, d, e, f) = (text(), text(), text(), text(), text(), text());
            let s = score(&p(&a, &b, &c), &p(&d, &e, &f));
            assert!(s.basis_points <= 10_000);
            assert_eq!(s.fishy, s.basis_points < 5_000);
        }
    }

    proptest! {
        #[test]
        fn any_input_scores_within_range_and_symmetrically(
            a in any::<String>(), b in any::<String>(), c in any::<String>(),
            d in "\\PC{0,80}", e in "[a-zA-Zа-яА-ЯёЁіїєґ' -]{0,80}", f in "[0-9+() -]{0,30}",
        ) {
            let x = p(&a, &b, &c);
            let y = p(&d, &e, &f);
            let s = score(&x, &y);
            prop_assert!(s.basis_points <= 10_000);
            prop_assert_eq!(s, score(&y, &x));
            prop_assert_eq!(s.percent_text().ends_with('%'), true);
        }

        #[test]
        fn anyone_with_a_name_and_a_phone_matches_themselves_fully(
            // At least one letter that is not a soft or hard sign, which alone have no sound.
            first in "[a-zа-щыэюя][a-zA-Zа-яА-ЯёЁіїєґәқңөұүһ]{0,63}",
            last in "[a-zа-щыэюя][a-zA-Zа-яА-ЯёЁіїєґәқңөұүһ]{0,63}",
            phone in "\\+?[0-9]{1,15}",
        ) {
            let me = p(&first, &last, &phone);
            prop_assert_eq!(score(&me, &me).basis_points, 10_000);
        }
    }
}
