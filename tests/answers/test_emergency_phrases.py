"""Emergency detection on phrases written for this test (not the evaluation set).

Each danger is said the way people type it: Kyrgyz, Russian and English, Cyrillic or Latin,
with slang and missing letters. Ordinary questions that share words with dangers (passport,
salary, police, "take", "sell") must stay calm.
"""

from __future__ import annotations

import pytest

from app.answers.emergency import is_emergency

DANGER = [
    # documents taken
    "my employer took my passport and wont give it back",
    "boss has our passports and says we get them after a year",
    "they keep our documents in the office and dont return them",
    "the agent is holding my id card",
    "работодатель забрал паспорта у всей бригады",
    "хозяин не отдает паспорт уже месяц",
    "документы отобрали на объекте",
    "pasport zabrali na sklade",
    "кожоюн паспортумду алып алды",
    "паспортторду чогултуп алышты, кайтарышпайт",
    "документтеримди бербей жатат",
    "kojoyun pasportumdu alyp aldy",
    "pasportumdu berbei jatat",
    # not paid
    "i have not been paid for three months",
    "they owe me 4 months of salary",
    "no salary for 3 months now",
    "they stopped paying us in spring",
    "boss refuses to pay me",
    "три месяца не платят",
    "зарплату не дают уже 2 месяца",
    "кинули с зарплатой",
    "задерживают зп второй месяц",
    "ne platyat uzhe 3 mesyaca",
    "айлыгымды бербей жатат",
    "3 айдан бери айлык жок",
    "4 ай иштедим бир тыйын алган жокмун",
    "айлык төлөбөй жатышат",
    "aylyk berbey jatat 3 aidan beri",
    # locked in, not let go
    "we are not allowed to leave the dormitory",
    "they locked the door, we cant get out",
    "my sister is being held in a flat in dubai",
    "нас закрыли на складе",
    "не выпускают с территории",
    "охрана не выпускает за ворота",
    "nas zaperli v obshage",
    "бизди үйгө чыгарбай жатат",
    "эшикти кулпулап коюшту",
    "мени коё бербей жатышат",
    "bizdi kamap koyushtu",
    "uidon chygarbay jatat",
    # violence, threats
    "the owner beats us",
    "he threatened to kill me if i leave",
    "бригадир бьёт рабочих",
    "избили на работе",
    "угрожают что убьют",
    "kojoyun urup jatat",
    "кожоюн коркутуп жатат",
    "коркуп жатабыз",
    # sold, forced
    "i was sold to another employer",
    "they force us to work without pay",
    "меня продали",
    "заставляют работать бесплатно",
    "мени сатып жиберишти",
    "мажбурлап иштетип жатышат",
    # injured
    "i fell off a ladder and my leg is broken",
    "упал со стройки, болит спина",
    "сломал руку на работе",
    "жумушта жыгылып калдым",
    "бутумду сындырып алдым",
    # police
    "police arrested my son yesterday",
    "меня повязали менты",
    "полиция кармап кетти",
    "militsiya karmap ketti",
    # stolen documents
    "someone stole my passport",
    "украли паспорт в метро",
    "паспортумду уурдап кетишти",
    # calls for help
    "help!!!",
    "please someone help us",
    "помогите пожалуйста",
    "SOS",
    "pomogite",
    "жардам бергилечи",
    "jardam berip koyunguzchu",
    # more ways to say it
    "уже третий месяц без зарплаты",
    "salary is 3 months late",
    "boss didnt give salary for 2 months",
    "зарплату не выдают, должны за два месяца",
    "айлык берилбейт, эки айдан бери",
    "мени коркутуп, паспортумду алып коюшкан",
    "полиция алып кетти, эмне кылам",
    "the police stopped me and took me to the station",
    "xozyain zabral pasport",
    "ne vypuskayut s ob'ekta",
    "policiya zaderzhala brata",
    "скорую не вызывают, кровь идёт",
    "сыртка чыккызбай жатышат",
    "he threatened me",
    "угрожает депортацией",
    "i need help",
    # food
    "они не кормят нас",
    "тамак бербей жатышат",
    # gone without paying
    "бригадир айлыгыбызды бербей качып кетти",
    "kojoyun akchabyzdy toloboy kachyp ketti",
    "the boss ran off without paying us",
    # hurt, and kept from a doctor
    "manjamdy kesip aldym",
    "бутумду кесип алдым, кан токтобой жатат",
    "колумду кесип алдым, доктурга жиберишпей жатат",
    "порезался на работе, к врачу не отпускают",
    "i cut my hand and they wont take me to a hospital",
    "they don't let me go to a doctor",
    "vrach ne vyzyvayut",
    # caught by the police, made to sign
    "police grabbed me near the metro",
    "the cops caught my brother",
    "policiya poimali na ulice",
    "менты поймали, заставляют подписать бумагу",
]

CALM = [
    "какие документы нужны для патента",
    "сколько платят на стройке в москве",
    "how much do they pay in korea",
    "should i take my passport with me",
    "can i keep a copy of my passport on my phone",
    "айлык канча болот",
    "паспорт алыш үчүн кандай документтер керек",
    "жолго кандай документтерди алып кетишим керек",
    "как получить патент",
    "что грозит за просрочку регистрации",
    "почему не пускают в россию",
    "курс рубля упал",
    "продал машину чтобы поехать в корею",
    "үйүмдү сатып жиберип кореяга барсам болобу",
    "i sold my car to pay the agency",
    "does insurance cover hospital",
    "security guard jobs in korea",
    "how to avoid being trafficked",
    "кровельщик нужен в казани",
    "вывоз мусора вакансии",
    "казакстанда кандай жумуштар бар",
    "мне закрыли въезд, когда можно вернуться",
    "do i pay tax on my salary in the uk",
    "можно ли не платить за регистрацию",
    "what documents do i need for the visa",
    "келишимде айлык жазылбаса болобу",
    "what number do i call for an ambulance in korea",
    "тез жардамды кантип чакырам",
    "where can i get help with my visa",
    "can the consulate help me with a new passport",
    "ким жардам бере алат",
    "консулдук жардам береби",
    "агент акчамды алып качып кетти",
    "агент сбежал с деньгами",
    "имеет ли право работодатель удерживать паспорт",
    "могут ли заставлять работать в выходные",
    "паспортту алып коюңуз деп айтышты",
    "паспорт өзүңдө болушу керек",
    "если паспорт украдут что делать",
    "акча бербей эле барсам болобу",
    "the job will come later, pay now",
    "can i leave without paying the agency",
    "do i need a doctor's certificate for korea",
    "врач нужен для медкомиссии?",
    "доктурга баруу үчүн камсыздандыруу керекпи",
    "айлыгымдан штраф кесип алды",
    "should i sign the contract before i pay",
    "кол коюудан мурун келишимди окуш керекпи",
    "what if the police catch me without registration",
    "если полиция поймает без регистрации что будет",
]


@pytest.mark.parametrize("text", DANGER)
def test_danger_is_recognised(text: str) -> None:
    assert is_emergency(text)


@pytest.mark.parametrize("text", CALM)
def test_ordinary_questions_stay_calm(text: str) -> None:
    assert not is_emergency(text)
