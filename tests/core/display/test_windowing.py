"""Behaviour of ctseg_core.display.windowing: presets, HU → uint8 mapping, drag adjustment."""

import numpy as np
import pytest

from ctseg_core.display.windowing import (
    MODEL_INPUT_WINDOW,
    PRESETS,
    Window,
    apply_window,
    preset_name,
    window_from_drag,
)


def reference(hu: np.ndarray, window: Window) -> np.ndarray:
    low, high = window.low, window.high
    return np.clip(np.round((hu.astype(np.float64) - low) / (high - low) * 255), 0, 255).astype(np.uint8)


def random_int16(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hu = rng.integers(-32768, 32768, size=shape, dtype=np.int16)
    hu.flat[: shape[-1]] = rng.integers(-1200, 2000, size=shape[-1])  # plenty inside windows
    hu.flat[0] = -32768
    hu.flat[1] = 32767
    return hu


def test_presets_in_order_with_values() -> None:
    assert list(PRESETS) == ["Abdomen", "Liver", "Bone", "Lung", "Model input"]
    assert [(w.width, w.level) for w in PRESETS.values()] == [
        (400, 40),
        (150, 90),
        (1800, 400),
        (1500, -600),
        (600, 50),
    ]
    assert PRESETS["Model input"] is MODEL_INPUT_WINDOW


def test_low_and_high() -> None:
    window = Window(width=400.0, level=40.0)
    assert window.low == -160.0
    assert window.high == 240.0


def test_width_must_be_positive() -> None:
    with pytest.raises(ValueError, match="width must be positive"):
        Window(width=0.0, level=0.0)


@pytest.mark.parametrize("name", list(PRESETS))
def test_int16_matches_reference_formula(name: str) -> None:
    window = PRESETS[name]
    hu = random_int16((64, 64))
    dense = np.arange(-2048, 2048, dtype=np.int16)  # every value near any preset
    for values in (hu, dense):
        result = apply_window(values, window)
        assert result.dtype == np.uint8
        assert result.shape == values.shape
        np.testing.assert_array_equal(result, reference(values, window))


def test_non_int16_input_uses_same_rounding() -> None:
    window = Window(width=151.0, level=33.0)
    hu = random_int16((32, 32)).astype(np.float32)
    np.testing.assert_array_equal(apply_window(hu, window), reference(hu, window))
    as_int32 = hu.astype(np.int32)
    np.testing.assert_array_equal(apply_window(as_int32, window), reference(as_int32, window))


def test_low_and_below_black_high_and_above_white() -> None:
    window = PRESETS["Abdomen"]
    hu = np.array([-32768, -1000, -161, -160, 240, 241, 3000, 32767], dtype=np.int16)
    np.testing.assert_array_equal(apply_window(hu, window), [0, 0, 0, 0, 255, 255, 255, 255])
    np.testing.assert_array_equal(apply_window(hu.astype(np.float64), window), [0, 0, 0, 0, 255, 255, 255, 255])


def test_works_on_3d_and_non_contiguous_arrays() -> None:
    window = PRESETS["Liver"]
    volume = random_int16((5, 40, 30), seed=1)
    np.testing.assert_array_equal(apply_window(volume, window), reference(volume, window))
    view = volume[:, ::2, ::-3]
    np.testing.assert_array_equal(apply_window(view, window), reference(view, window))


def test_drag_right_widens_left_narrows_never_below_one() -> None:
    window = PRESETS["Abdomen"]
    assert window_from_drag(window, 10, 0).width > window.width
    assert window_from_drag(window, -10, 0).width < window.width
    assert window_from_drag(window, -10_000, 0).width == 1.0
    assert window_from_drag(Window(1.0, 0.0), -50, 0).width == 1.0
    assert window_from_drag(window, 10, 0).level == window.level


def test_drag_vertical_changes_level_proportional_to_width() -> None:
    narrow = Window(width=100.0, level=40.0)
    wide = Window(width=1000.0, level=40.0)
    moved_narrow = window_from_drag(narrow, 0, 20)
    moved_wide = window_from_drag(wide, 0, 20)
    assert moved_narrow.width == narrow.width
    assert moved_narrow.level != narrow.level
    assert moved_wide.level - wide.level == pytest.approx(10 * (moved_narrow.level - narrow.level))
    assert window_from_drag(narrow, 0, -20).level - narrow.level == pytest.approx(narrow.level - moved_narrow.level)


def test_preset_name_matches_to_half_a_hu() -> None:
    """The Window panel names the preset a typed or dragged window equals (core rule, shown here)."""
    assert preset_name(Window(400.3, 39.8)) == "Abdomen"
    assert preset_name(Window(401.0, 40.0)) is None  # the panel shows "Custom"
