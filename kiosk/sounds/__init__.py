"""The kiosk's sounds and spoken prompts: WAV files checked in here, made by `python -m kiosk.sounds.make`.

Tones (`tones/`): scan ok, error, paid, help, synthesised with numpy.  Prompts
(`prompts/<language>/<key>.wav`): short sentences in each shopper language,
spoken by espeak-ng (Debian's `espeak-ng`; voices cmn, en-us, ja, ko) from the
texts in PROMPTS, so a change of wording is one edit and one command.
"""

from __future__ import annotations

from pathlib import Path

SOUNDS_DIR = Path(__file__).parent
TONES = ("ok", "error", "paid", "help")  # the buzzer's patterns (hardware.gpio.BEEPS), through the speaker too

# what is said, and when: key -> the words per language (what the voice reads; the screen says the same in its
# own words).  Japanese is given in kana: espeak-ng reads kana, not kanji.
PROMPTS: dict[str, dict[str, str]] = {
    "hold_code": {
        "zh_CN": "请将付款码对准摄像头",
        "zh_TW": "請將付款碼對準攝影機",
        "en": "Please hold your payment code to the camera.",
        "ja": "しはらいこーどを、かめらに、かざしてください。",
        "ko": "결제 코드를 카메라에 대 주세요.",
    },
    "paid": {
        "zh_CN": "支付成功，请取走您的小票",
        "zh_TW": "付款成功，請取走您的收據",
        "en": "Payment successful. Please take your receipt.",
        "ja": "おしはらいが、かんりょうしました。れしーとを、おとりください。",
        "ko": "결제가 완료되었습니다. 영수증을 가져가세요.",
    },
    "not_charged": {
        "zh_CN": "支付未完成，未扣款",
        "zh_TW": "付款未完成，未扣款",
        "en": "The payment did not go through. You have not been charged.",
        "ja": "しはらいは、かんりょうしませんでした。せいきゅうは、されていません。",
        "ko": "결제가 완료되지 않았습니다. 요금이 청구되지 않았습니다.",
    },
    "help": {
        "zh_CN": "工作人员马上就到",
        "zh_TW": "工作人員馬上就到",
        "en": "Help is on the way.",
        "ja": "かかりいんが、まいります。",
        "ko": "직원이 곧 옵니다.",
    },
    "age_check": {
        "zh_CN": "付款前需由店员核验年龄",
        "zh_TW": "付款前需由店員核驗年齡",
        "en": "A staff member will check your age before you pay.",
        "ja": "おしはらいのまえに、かかりいんが、ねんれいを、かくにんします。",
        "ko": "결제 전에 직원이 나이를 확인합니다.",
    },
}


def tone_path(name: str) -> Path:
    return SOUNDS_DIR / "tones" / f"{name}.wav"


def prompt_path(key: str, language: str) -> Path:
    return SOUNDS_DIR / "prompts" / language / f"{key}.wav"
