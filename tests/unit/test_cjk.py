"""The CJK character test that sentence splitting uses agrees with the pattern token counting uses."""

from functions.core.text.cjk import cjk_pattern, is_cjk


def test_the_character_test_and_the_pattern_agree_on_every_code_point_of_the_basic_plane() -> None:
    pattern = cjk_pattern()
    differ = [code for code in range(0x10000) if is_cjk(chr(code)) != bool(pattern.fullmatch(chr(code)))]
    assert differ == []


def test_ideographs_kana_hangul_and_full_width_forms_are_cjk_and_latin_is_not() -> None:
    assert all(is_cjk(char) for char in "漢字かなカナ한글\uff01")
    assert not any(is_cjk(char) for char in "Latin ÀÉ 3.14 — ")
