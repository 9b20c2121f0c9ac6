"""Identifier validation, normalisation, classification and masking (no database needed)."""

from __future__ import annotations

import datetime
import pickle

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import ValidationError as StdnumValidationError

from qualitycity.subjects import codelists
from qualitycity.subjects.identifiers import (
    ERROR_CODES,
    RESIDENT_ID,
    USCC,
    USCC_ALPHABET,
    IdentifierError,
    classify_code,
    mask_person_name,
    mask_resident_id,
    normalize_code,
    org_code_check_digit,
    resident_id_check_char,
    uscc_check_char,
    validate_resident_id,
    validate_uscc,
)

# Real-world codes (the first is python-stdnum's own example) and Qingdao-shaped codes whose
# check characters were computed by hand from GB 11714 / GB 32100.
VALID_USCCS = [
    "91110000600037341L",
    "914403001922038216",  # all digits
    "9144030071526726XG",  # GB 11714 check digit X
    "91370202MA3C4L2R6P",  # Shinan enterprise, MA-series organisation code
    "92370211MA3PXY4N1L",  # Huangdao individual business
    "93370283MA3D1B6T5T",  # Pingdu farmers' cooperative
    "52370212MJD7281921",  # Laoshan social organisation
    "123702004274005725",  # public institution
    "113702030030010173",  # government agency
    "Y1370214MC1234566E",  # authority Y: stdnum rejects it
    "A1370215123456788W",  # authority A: stdnum rejects it
    "N2370281MF0N4K221P",  # authority N: stdnum rejects it
    "91370202100000040B",  # GB 11714 check digit 0 (remainder 11)
]

VALID_RESIDENT_IDS = [
    "370202199001011237",
    "37021119851231002X",  # check character X
    "370285200002290043",  # 29 February of a leap year
]

USCC_ALPHABET_SET = set(USCC_ALPHABET)
NOT_IN_ALPHABET = "IOSVZ"


def _error_code(func, value) -> str:
    with pytest.raises(IdentifierError) as excinfo:
        func(value)
    return excinfo.value.code


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

alphabet_char = st.sampled_from(USCC_ALPHABET)


@st.composite
def valid_usccs(draw) -> str:
    authority = draw(st.sampled_from("123456789ANY"))
    org_type = draw(alphabet_char)
    division = draw(
        st.one_of(
            st.sampled_from(sorted(codelists.DISTRICTS)),
            st.text("0123456789", min_size=6, max_size=6),
        )
    )
    org8 = "".join(draw(st.lists(alphabet_char, min_size=8, max_size=8)))
    first17 = authority + org_type + division + org8 + org_code_check_digit(org8)
    return first17 + uscc_check_char(first17)


@st.composite
def valid_resident_ids(draw) -> str:
    division = draw(
        st.one_of(
            st.sampled_from(sorted(codelists.DISTRICTS)),
            st.text("0123456789", min_size=6, max_size=6),
        )
    )
    born = draw(st.dates(datetime.date(1900, 1, 1), datetime.date.today()))
    sequence = draw(st.integers(0, 999))
    first17 = f"{division}{born:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_check_char(first17)


# --------------------------------------------------------------------------------------------
# USCC
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", VALID_USCCS)
def test_known_valid_usccs(code):
    assert validate_uscc(code) == code
    assert classify_code(code) == (USCC, code)


def test_stdnum_agrees_on_numeric_authority_codes_and_rejects_letter_authorities():
    for code in VALID_USCCS:
        if code[0].isdigit():
            assert stdnum_uscc.is_valid(code), code
        else:
            assert not stdnum_uscc.is_valid(code), code  # why we do not delegate to stdnum


def test_org_code_check_digit_values():
    assert org_code_check_digit("60003734") == "1"
    assert org_code_check_digit("19220382") == "1"
    assert org_code_check_digit("71526726") == "X"  # 11 - r == 10
    assert org_code_check_digit("10000004") == "0"  # 11 - r == 11
    assert org_code_check_digit("ma3c4l2r") == "6"  # normalised first
    # letters count 10-35, including those the USCC alphabet excludes
    assert org_code_check_digit("Z0000000") == str(11 - (35 * 3) % 11)


def test_uscc_check_char_values():
    assert uscc_check_char("91110000600037341") == "L"
    assert uscc_check_char("9137 0202-MA3C4L2R6") == "P"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("91110000600037341", "bad_length"),
        ("91110000600037341LL", "bad_length"),
        ("91110000600O37341L", "bad_characters"),  # letter O for zero
        ("9111000060003734!L", "bad_characters"),
        ("91110000600037341统", "bad_characters"),
        ("01110000600037341L", "bad_authority"),
        ("B1110000600037341L", "bad_authority"),
        ("911100A0600037341L", "bad_division"),
        ("91110000600037342L", "bad_org_check"),
        ("91110000600037341K", "bad_check"),
    ],
)
def test_uscc_error_codes(value, code):
    assert _error_code(validate_uscc, value) == code
    assert code in ERROR_CODES


def test_uscc_most_specific_error_first():
    # bad authority and bad division and bad check all at once: authority wins
    assert _error_code(validate_uscc, "0111AAAA600037341K") == "bad_authority"
    # bad division and bad org check: division wins
    assert _error_code(validate_uscc, "9111AAAA600037342K") == "bad_division"
    # bad org check and bad mod-31 check: org check wins
    assert _error_code(validate_uscc, "91110000600037342K") == "bad_org_check"
    # a forbidden letter anywhere beats a bad authority
    assert _error_code(validate_uscc, "0111000060003734IL") == "bad_characters"


def test_error_carries_code_and_english_message():
    with pytest.raises(IdentifierError) as excinfo:
        validate_uscc("91110000600037341K")
    error = excinfo.value
    assert isinstance(error, ValueError)
    assert error.code == "bad_check"
    assert "check" in error.message
    assert str(error) == error.message
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (clone.code, clone.message) == (error.code, error.message)


def test_errors_are_fresh_objects_despite_caching():
    with pytest.raises(IdentifierError) as first:
        validate_uscc("91110000600037341K")
    with pytest.raises(IdentifierError) as second:
        validate_uscc("91110000600037341K")
    assert first.value is not second.value


@settings(max_examples=300)
@given(valid_usccs())
def test_generated_usccs_validate(code):
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


@settings(max_examples=300)
@given(st.text(USCC_ALPHABET, min_size=17, max_size=17))
def test_mod31_matches_stdnum(first17):
    assert uscc_check_char(first17) == stdnum_uscc.calc_check_digit(first17)


def _reference_org_check(first8: str) -> str:
    """GB 11714 spelled out: weights 3, 7, 9, 10, 5, 8, 4, 2; A-Z count 10-35."""
    values = [int(c) if c.isdigit() else 10 + ord(c) - ord("A") for c in first8]
    remainder = 11 - sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


@settings(max_examples=500)
@given(st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=8))
def test_org_code_check_digit_matches_the_spelled_out_rule(first8):
    assert org_code_check_digit(first8) == _reference_org_check(first8)


@settings(max_examples=300)
@given(valid_usccs(), st.integers(8, 17), alphabet_char)
def test_any_single_substitution_in_positions_9_to_18_is_rejected(code, index, char):
    assume(code[index] != char)
    mutated = code[:index] + char + code[index + 1 :]
    assert _error_code(validate_uscc, mutated) in {"bad_org_check", "bad_check"}


@settings(max_examples=100)
@given(valid_usccs(), st.integers(8, 17), st.sampled_from(NOT_IN_ALPHABET))
def test_excluded_letters_are_bad_characters(code, index, char):
    mutated = code[:index] + char + code[index + 1 :]
    assert _error_code(validate_uscc, mutated) == "bad_characters"


@settings(max_examples=100)
@given(valid_usccs(), st.sampled_from("0BCDEFGHJKLMPQRTUWX"))
def test_authority_outside_table_is_bad_authority(code, authority):
    assert _error_code(validate_uscc, authority + code[1:]) == "bad_authority"


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "91370202MA3C4L2R6P",
        "91370202ma3c4l2r6p",
        " 91370202MA3C4L2R6P \n",
        "9137 0202 MA3C 4L2R 6P",
        "913702-02MA3C4L2R-6P",
        "91370202\u3000MA3C4L2R6P",  # ideographic space
        "91370202\uff0dMA3C4L2R6P",  # full-width hyphen-minus
        "91370202\uff70MA3C4L2R6P",  # half-width katakana prolonged sound mark
        "91370202\u2013MA3C4L2R6P",  # en dash
        "\ufeff91370202MA3C4L2R6P",  # byte-order mark from a CSV export
        "９１３７０２０２ＭＡ３Ｃ４Ｌ２Ｒ６Ｐ",  # full-width digits and letters
        "９１３７０２０２ｍａ３ｃ４ｌ２ｒ６ｐ",  # full-width lower case
    ],
)
def test_normalisation_variants_validate(raw):
    assert normalize_code(raw) == "91370202MA3C4L2R6P"
    assert validate_uscc(raw) == "91370202MA3C4L2R6P"


def test_normalize_code_edge_cases():
    assert normalize_code(None) == ""
    assert normalize_code("") == ""
    assert normalize_code(370202) == "370202"
    assert normalize_code("37021119851231002x") == "37021119851231002X"
    assert normalize_code("３７０２１１１９８５１２３１００２ｘ") == "37021119851231002X"


@settings(max_examples=200)
@given(valid_usccs(), st.lists(st.sampled_from([" ", "-", "\u3000", "\uff0d", "\u2013"])))
def test_separators_anywhere_do_not_matter(code, separators):
    noisy = code
    for i, sep in enumerate(separators):
        position = (i * 7) % (len(noisy) + 1)
        noisy = noisy[:position] + sep + noisy[position:]
    assert validate_uscc(noisy) == code


# --------------------------------------------------------------------------------------------
# Resident ID numbers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", VALID_RESIDENT_IDS)
def test_known_valid_resident_ids(number):
    assert validate_resident_id(number) == number
    assert validate_resident_id(number.lower()) == number
    assert classify_code(number) == (RESIDENT_ID, number)


def test_lower_case_x_and_spaces():
    assert validate_resident_id("370211 19851231 002x") == "37021119851231002X"


def test_resident_id_check_char_matches_stdnum_example():
    assert resident_id_check_char("36042619910101007") == "1"  # stdnum's documented number
    assert resident_id_check_char("37021119851231002") == "X"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "empty"),
        ("37020219900101123", "bad_length"),
        ("370202900101123", "bad_length"),  # first-generation 15-digit number
        ("37020219900101123A", "bad_characters"),
        ("3702021990010112X7", "bad_format"),
        ("370202199013011237", "bad_birth_date"),  # month 13
        ("370283200102290033", "bad_birth_date"),  # 29 February 2001
        ("370202189912311237", "bad_birth_date"),  # before 1900
        ("370202199001011238", "bad_check"),
    ],
)
def test_resident_id_error_codes(value, code):
    assert _error_code(validate_resident_id, value) == code


def test_future_birth_date_is_rejected():
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    first17 = f"370202{tomorrow:%Y%m%d}123"
    number = first17 + resident_id_check_char(first17)
    assert _error_code(validate_resident_id, number) == "bad_birth_date"


def test_unknown_division_is_not_a_resident_id_error():
    # stdnum.cn.ric.validate would reject this (no such county); we check only the date
    # and the check digit, so synthetic data with made-up divisions stays valid.
    first17 = "99999919900101123"
    number = first17 + resident_id_check_char(first17)
    assert not stdnum_ric.is_valid(number)
    assert validate_resident_id(number) == number


@settings(max_examples=300)
@given(valid_resident_ids())
def test_generated_resident_ids_validate_and_match_stdnum(number):
    assert validate_resident_id(number) == number
    assert number[17] == stdnum_ric.calc_check_digit(number)


@settings(max_examples=500)
@given(
    st.one_of(
        st.text("0123456789", min_size=8, max_size=8),
        st.dates(datetime.date(1850, 1, 1), datetime.date(2150, 12, 31)).map(
            lambda d: f"{d:%Y%m%d}"
        ),
        st.sampled_from(["19000229", "20000229", "21000229", "19000101", "18991231"]),
    )
)
def test_birth_date_rule_matches_stdnum(yyyymmdd):
    first17 = f"370202{yyyymmdd}123"
    number = first17 + resident_id_check_char(first17)
    try:
        born = stdnum_ric.get_birth_date(number)
    except StdnumValidationError:
        expected = False
    else:
        expected = datetime.date(1900, 1, 1) <= born <= datetime.date.today()
    try:
        validate_resident_id(number)
    except IdentifierError as error:
        assert error.code == "bad_birth_date"
        assert not expected
    else:
        assert expected


@settings(max_examples=300)
@given(valid_resident_ids(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_any_single_substitution_in_a_resident_id_is_rejected(number, index, char):
    assume(number[index] != char)
    mutated = number[:index] + char + number[index + 1 :]
    assert _error_code(validate_resident_id, mutated) in {
        "bad_check",
        "bad_birth_date",
        "bad_format",
    }


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------


def test_classify_all_digit_uscc_is_uscc():
    # 18 digits but positions 7-14 ("00192203") are no birth date, so it cannot be a person
    assert classify_code("914403001922038216") == (USCC, "914403001922038216")


def test_classify_normalises():
    assert classify_code(" 370211-19851231-002x ") == (RESIDENT_ID, "37021119851231002X")
    assert classify_code("91370202 ma3c4l2r6p") == (USCC, "91370202MA3C4L2R6P")


@pytest.mark.parametrize(
    ("value", "code", "message_fragment"),
    [
        ("", "empty", ""),
        ("1234", "bad_length", ""),
        ("370202199001011238", "bad_check", "resident ID"),  # person with a typo
        ("370202199013011237", "bad_birth_date", "resident ID"),  # person, impossible month
        ("914403001922038217", "bad_check", "credit code"),  # all-digit USCC with a typo
        ("91110000600037341K", "bad_check", "credit code"),
        ("91370202MA3C4L2R6I", "bad_characters", "credit code"),
    ],
)
def test_classify_reports_the_most_relevant_error(value, code, message_fragment):
    with pytest.raises(IdentifierError) as excinfo:
        classify_code(value)
    assert excinfo.value.code == code
    assert message_fragment in excinfo.value.message


@settings(max_examples=200)
@given(st.one_of(valid_usccs(), valid_resident_ids()))
def test_classify_accepts_every_valid_code(value):
    kind, code = classify_code(value)
    assert code == value
    if kind == USCC:
        assert validate_uscc(value) == value
    else:
        assert validate_resident_id(value) == value


# --------------------------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------------------------


def test_mask_resident_id_examples():
    assert mask_resident_id("37020219900101123X") == "370202********123X"
    assert mask_resident_id("370202 19900101 123x") == "370202********123X"
    assert mask_resident_id("370202900101123") == "370202*****1123"  # 15-digit legacy
    assert mask_resident_id("1234567890") == "**********"
    assert mask_resident_id("") == ""
    assert mask_resident_id(None) == ""


@settings(max_examples=300)
@given(valid_resident_ids(), valid_resident_ids())
def test_masking_never_leaks_the_middle(first, second):
    masked = mask_resident_id(first)
    assert len(masked) == 18
    assert masked[:6] == first[:6]
    assert masked[-4:] == first[-4:]
    assert masked[6:14] == "*" * 8
    # two numbers that differ only in the middle are indistinguishable once masked
    spliced = first[:6] + second[6:14] + first[14:]
    assert mask_resident_id(spliced) == masked


@settings(max_examples=300)
@given(st.text(min_size=0, max_size=30))
def test_masking_arbitrary_text_reveals_at_most_ten_characters(text):
    normalised = normalize_code(text)
    masked = mask_resident_id(text)
    assert len(masked) == len(normalised)
    assert sum(c != "*" for c in masked) <= min(10, max(0, len(normalised) - 1))
    if len(normalised) > 10:
        assert set(masked[6:-4]) == {"*"}


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("王小明", "王**"),
        (" 李 四 ", "李*"),
        ("买买提·艾力", "买**·**"),
        ("张", "张"),
        ("John Smith", "J*** S****"),
        ("mary-jane o'neil", "m***-j*** o'n***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_person_name(name, masked):
    assert mask_person_name(name) == masked


@given(st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=2, max_size=6))
def test_chinese_names_keep_only_the_first_character(name):
    masked = mask_person_name(name)
    assert masked == name[0] + "*" * (len(name) - 1)


# --------------------------------------------------------------------------------------------
# Code lists that depend on identifiers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "subject_type"),
    [
        ("91370202MA3C4L2R6P", "enterprise"),
        ("92370211MA3PXY4N1L", "individual_business"),
        ("93370283MA3D1B6T5T", "farmers_coop"),
        ("52370212MJD7281921", "social_organisation"),
        ("123702004274005725", "public_institution"),
        ("113702030030010173", "government_agency"),
        ("Y1370214MC1234566E", "other_organisation"),
        ("A1370215123456788W", "public_institution"),
        ("N2370281MF0N4K221P", "other_organisation"),
        ("94370202MA3C4L2R6P", None),  # 9 only defines types 1-3
        ("", None),
    ],
)
def test_expected_subject_type(code, subject_type):
    assert codelists.expected_subject_type(code) == subject_type
    if subject_type:
        assert subject_type in codelists.SUBJECT_TYPES


def test_industry_divisions_cover_gbt_4754_2017():
    divisions = codelists.INDUSTRY_DIVISIONS
    assert sorted(divisions) == [f"{i:02d}" for i in range(1, 98)]
    assert {section for _, section in divisions.values()} == set(codelists.INDUSTRY_SECTIONS)
    assert divisions["01"] == ("农业", "A")
    assert divisions["13"] == ("农副食品加工业", "C")
    assert divisions["36"] == ("汽车制造业", "C")
    assert divisions["51"] == ("批发业", "F")
    assert divisions["52"] == ("零售业", "F")
    assert divisions["62"] == ("餐饮业", "H")
    assert divisions["65"] == ("软件和信息技术服务业", "I")
    assert divisions["79"] == ("土地管理业", "N")
    assert divisions["97"] == ("国际组织", "T")
    # sections are contiguous runs of divisions
    sections = [divisions[f"{i:02d}"][1] for i in range(1, 98)]
    assert sections == sorted(sections)


@pytest.mark.parametrize(
    ("code", "section"),
    [
        ("36", "C"),
        (36, "C"),
        (1, "A"),
        ("1", "A"),
        ("6510", "I"),
        ("C3670", "C"),
        ("c36", "C"),
        ("F3670", None),  # prefix contradicts the division
        ("98", None),
        ("00", None),
        ("", None),
        (None, None),
    ],
)
def test_section_for_division(code, section):
    assert codelists.section_for_division(code) == section


def test_qingdao_districts():
    assert codelists.DISTRICTS["370202"] == ("市南区", "Shinan")
    assert codelists.DISTRICTS[codelists.QINGDAO_CITY_CODE][0] == "青岛市"
    assert len(codelists.DISTRICTS) == 11
