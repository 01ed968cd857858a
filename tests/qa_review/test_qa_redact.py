"""PII redaction of transcripts: what is masked, what is left alone, and where.

Card numbers below are Luhn-valid (4111 1111 1111 1111 is the usual Visa test number),
and 11010519491231002X is a Chinese ID with a correct MOD 11-2 check character.
"""

from __future__ import annotations

import itertools

import pytest

from qa_review.redact import ENTITY_TYPES, Entity, Redacted, find_pii, placeholder, redact

VISA = "4111111111111111"
UNIONPAY = "6222021234567890128"
CN_ID = "11010519491231002X"


def said(text: str, language: str | None = None) -> list[tuple[str, str]]:
    """What was found, as (type, the words of the input it covers)."""
    return [(e.type, text[e.start : e.end]) for e in find_pii(text, language)]


# --- card numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["4111 1111 1111 1111", "4111-1111-1111-1111", VISA, "3782 822463 10005"]
)
def test_a_written_card_number_is_redacted_however_it_is_grouped(number: str) -> None:
    assert said(f"my card number is {number} thanks") == [("card_number", number)]


def test_a_luhn_valid_number_with_a_card_prefix_needs_no_context() -> None:
    assert said("yeah its 5555 5555 5555 4444 i think") == [("card_number", "5555 5555 5555 4444")]


def test_a_card_number_spoken_in_english_digit_words_is_redacted() -> None:
    text = "the card is four one one one, one one one one, one one one one, one one one one"
    assert said(text, "en") == [("card_number", text[12:])]


def test_oh_double_and_triple_are_read_as_digits() -> None:
    # 4532 7710 3388 5000, Luhn-valid: "oh" is 0, "double three" 33, "triple oh" 000.
    spoken = "four five three two double seven one oh double three double eight five triple oh"
    assert said(f"ok its {spoken}", "en") == [("card_number", spoken)]


def test_a_card_number_spoken_in_chinese_numerals_is_redacted() -> None:
    spoken = "六二二二零二一二三四五六七八九零一二八"
    assert said(f"卡号是{spoken}", "zh") == [("card_number", spoken)]


def test_a_sixteen_digit_number_failing_luhn_outside_card_context_is_left_alone() -> None:
    assert said("the letter had 4111 1111 1111 1112 printed at the top") == []


def test_a_luhn_valid_number_after_a_reference_cue_is_a_reference_not_a_card() -> None:
    assert said(f"invoice number {VISA}") == []
    assert said(f"流水号{UNIONPAY}") == []


def test_an_interjection_before_the_number_is_not_part_of_it() -> None:
    assert said(f"oh {VISA} sorry thats the visa", "en") == [("card_number", VISA)]


# --- CVV --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cvv"),
    [
        ("and the cvv is 123", "123"),
        ("the three digit code on the back is seven four one", "seven four one"),
        ("CVV2: 482", "482"),
        ("the four digit security code is 4292", "4292"),
        ("uh six seven seven is the security code", "six seven seven"),
        ("安全码是三四五", "三四五"),
        ("卡背面那三位是819", "819"),
    ],
)
def test_a_cvv_is_redacted_next_to_a_card_security_cue(text: str, cvv: str) -> None:
    assert said(text) == [("cvv", cvv)]


def test_three_digits_without_a_cvv_cue_are_left_alone() -> None:
    assert said("I can pay 123 today and my card ending in 4242 is fine") == []


def test_a_card_and_its_cvv_in_one_breath_are_two_entities() -> None:
    assert said(f"卡号{UNIONPAY}，安全码345。") == [("card_number", UNIONPAY), ("cvv", "345")]
    assert said(f"卡号{UNIONPAY}，345是安全码") == [("card_number", UNIONPAY), ("cvv", "345")]


def test_one_cue_names_one_cvv_and_later_amounts_stay() -> None:
    text = "the security code is 123 and I can do 250 on friday"
    assert said(text) == [("cvv", "123")]


def test_an_expiry_date_after_the_cvv_is_left_alone() -> None:
    assert said("cvv 123 expires 0827") == [("cvv", "123")]
    assert said("it expires 11/28 and the code on the back is 113") == [("cvv", "113")]


# --- SSN --------------------------------------------------------------------------------


def test_a_dashed_ssn_is_redacted_without_context() -> None:
    assert said("I was born on 1985-03-12 and it's 078-05-1120") == [("ssn", "078-05-1120")]


@pytest.mark.parametrize(
    "ssn",
    [
        "219 44 5567",
        "219445567",
        "two one nine four four five five six seven",
        "oh seven eight, oh five, one one two oh",
    ],
)
def test_an_ssn_in_social_security_context_is_redacted(ssn: str) -> None:
    assert said(f"my social security number is {ssn}", "en") == [("ssn", ssn)]


@pytest.mark.parametrize("ssn", ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567"])
def test_numbers_the_ssa_never_issues_are_not_ssns(ssn: str) -> None:
    assert said(f"ssn {ssn}") == []


# --- Chinese national ID ----------------------------------------------------------------


@pytest.mark.parametrize(
    "number", [CN_ID, CN_ID.lower(), "110105 19491231 002X", "110105198503122173"]
)
def test_a_chinese_id_with_a_valid_check_character_is_redacted(number: str) -> None:
    assert said(f"身份证号是{number}，您核对一下") == [("cn_national_id", number)]


def test_a_chinese_id_spoken_with_cha_for_x_is_redacted() -> None:
    spoken = "一一零一零五一九四九一二三一零零二叉"
    assert said(f"我身份证号是{spoken}", "zh") == [("cn_national_id", spoken)]


def test_a_chinese_id_with_a_wrong_check_digit_is_left_alone() -> None:
    assert said("身份证号是110105198503122170吗？") == []
    assert said("身份证号是11010519491231002Y") == []


def test_an_id_with_an_impossible_birth_date_is_left_alone() -> None:
    # Born 1949-13-31, and the check character is right for these 17 digits.
    assert said("id number 110105194913310021") == []


# --- phone numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("You can reach me at (415) 555-0134.", "(415) 555-0134"),
        ("please call me back on +1 617 555 0107", "+1 617 555 0107"),
        ("the best number is 312.555.0112", "312.555.0112"),
        ("(702)555-0101 that's my work number", "(702)555-0101"),
        ("or call us at 1-800-555-0199", "1-800-555-0199"),
        ("my number changed it's now +44 20 7946 0958", "+44 20 7946 0958"),
        ("我的手机号是13912345678", "13912345678"),
        ("手机183-8710-6019", "183-8710-6019"),
        ("我的号码是+86 155 6485 8147", "+86 155 6485 8147"),
        ("电话是010-62345678", "010-62345678"),
        ("座机0755 8600 1234，白天有人接", "0755 8600 1234"),
        ("您好，１３８００１３８０００是我的手机", "１３８００１３８０００"),
    ],
)
def test_a_written_phone_number_is_redacted_with_its_plus_and_bracket(
    text: str, phone: str
) -> None:
    assert said(text) == [("phone", phone)]


@pytest.mark.parametrize(
    ("before", "phone", "after", "language"),
    [
        ("my cell is ", "seven oh two five five five oh one one oh", "", "en"),
        ("text me at ", "three one two five double five oh one double four", "", "en"),
        ("sure its ", "six four six dash five five five dash oh one three seven", "", "en"),
        ("my number is ", "four one five, five five five, oh one, thirty four", " ok", "en"),
        ("you can call ", "one eight hundred five five five oh one nine nine", " too", "en"),
        ("ok its ", "plus one two one two five five five oh one seven nine", "", "en"),
        ("你打这个号码", "幺三七三五三二六幺三零", "就行", "zh"),
        ("号码是", "一三二，四七四一，五二五九", "", "zh"),
    ],
)
def test_a_spoken_phone_number_is_redacted(
    before: str, phone: str, after: str, language: str
) -> None:
    assert said(before + phone + after, language) == [("phone", phone)]


def test_a_seven_digit_local_number_needs_a_phone_cue() -> None:
    assert said("my number is five five five oh one eight two", "en") == [
        ("phone", "five five five oh one eight two")
    ]
    assert said("it was five five five oh one eight two", "en") == []


def test_a_weak_numeral_glued_to_a_mobile_number_is_dropped() -> None:
    assert said("我查一下一三八零零一三八零零零一下", "zh") == [("phone", "一三八零零一三八零零零")]


# --- bank accounts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "account", "after"),
    [
        ("my checking account number is ", "086993467365", ""),
        ("acct #", "8723092998", " at first national"),
        ("and the routing is ", "zero three three two nine zero five nine nine", ""),
        ("开户行是招商银行，账号", "3465760759809110", "。"),
        ("工资卡账号是", UNIONPAY, ""),
    ],
)
def test_an_account_number_next_to_an_account_cue_is_redacted(
    before: str, account: str, after: str
) -> None:
    assert said(before + account + after) == [("bank_account", account)]


def test_eight_digits_without_an_account_cue_are_left_alone() -> None:
    assert said("it was 61377904 or something like that") == []


# --- what is not PII --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "You owe $1,250.00 and the minimum payment is $75.",
        "i can pay 1250 dollars on march 15",
        "so that's two thousand five hundred dollars in total",
        "we can do twenty five hundred over six months",
        "I can only do 150 a month right now",
        "The payment is due on 2026-03-15.",
        "we received your check on 03/15/2026 at 10:30",
        "i've been with them since nineteen ninety five",
        "your reference number is 88123456",
        "The case number is 20260315001, please keep it.",
        "the order number is 4155550195",
        "the tracking number is 1Z999AA10123456784",
        "my zip code is 94103 and the account is 90 days past due",
        "it went up every year 2018, 2019, 2020 and 2021",
        "您目前欠款两千五百块，最低还款¥3000",
        "3月15日之前还1500元",
        "我二零二六年三月十五号之前一定还",
        "下午三点再给您回电话",
        "您的案件编号是20260315001",
        "订单号13041431672",
        "分12期，每期850元",
        "一二三四五六七八九十，您跟着我念",
        "您是尾号2171的机主吗",
    ],
)
def test_amounts_dates_times_references_and_counts_are_left_alone(text: str) -> None:
    assert redact(text) == Redacted(text, ())


def test_a_reference_cue_far_back_does_not_hide_a_phone_number() -> None:
    text = "the case number is 20260315 and you can reach our office at 4155550134"
    assert said(text) == [("phone", "4155550134")]


# --- the result -------------------------------------------------------------------------


def test_each_entity_is_replaced_by_its_placeholder() -> None:
    text = f"card {VISA} cvv 123, call 415-555-0134, id {CN_ID}, ssn 078-05-1120"
    result = redact(text)
    assert result.text == (
        "card [CARD_NUMBER] cvv [CVV], call [PHONE], id [CN_NATIONAL_ID], ssn [SSN]"
    )
    assert [e.type for e in result.entities] == [
        "card_number",
        "cvv",
        "phone",
        "cn_national_id",
        "ssn",
    ]


def test_placeholders_name_the_type_in_capitals() -> None:
    assert [placeholder(t) for t in ENTITY_TYPES] == [
        "[CARD_NUMBER]",
        "[CVV]",
        "[SSN]",
        "[CN_NATIONAL_ID]",
        "[PHONE]",
        "[BANK_ACCOUNT]",
    ]


def test_offsets_point_into_the_input_not_the_redacted_text() -> None:
    text = "嗯，我的手机号是 139 1234 5678，银行账号 6228 4804 0256 4890 018。"
    entities = redact(text).entities
    assert entities == (
        Entity("phone", text.index("139"), text.index("5678") + 4),
        Entity("bank_account", text.index("6228"), text.index("018") + 3),
    )


def test_entities_come_in_order_and_never_overlap() -> None:
    text = (
        f"my visa is {VISA} and the cvv is 123 and my phone is four one five five five five "
        "oh one three four and my social is 078-05-1120"
    )
    entities = find_pii(text, "en")
    assert [e.type for e in entities] == ["card_number", "cvv", "phone", "ssn"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(entities))


def test_a_checksummed_id_wins_over_other_readings_of_the_same_digits() -> None:
    # 18 digits: also the length of a UnionPay card, but the ID check character decides.
    assert said(f"the number is {CN_ID[:-1]}X") == [("cn_national_id", CN_ID)]


def test_empty_and_digitless_text_come_back_unchanged() -> None:
    assert redact("") == Redacted("", ())
    assert redact("I can not pay this month, sorry") == Redacted(
        "I can not pay this month, sorry", ()
    )


def test_the_language_chooses_which_spoken_digits_are_read() -> None:
    chinese = "我的手机号是幺三八零零幺三八零零零"
    english = "my cell is seven oh two five five five oh one one oh"
    assert said(chinese, "en") == []
    assert said(chinese, "zh") == said(chinese) == [("phone", chinese[6:])]
    assert said(english, "zh") == []
    assert said(english, "en") == said(english) == [("phone", english[11:])]


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        find_pii("4111 1111 1111 1111", "fr")
