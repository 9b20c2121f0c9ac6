"""Code lists for market subjects: Qingdao divisions, GB/T 4754-2017 industries, subject
types and statuses, and the GB 32100-2015 registration authority / organisation type table.

Pure Python, no Django. Labels are (Chinese, English) pairs where the UI needs both.
"""

from __future__ import annotations

from .identifiers import normalize_code

# --------------------------------------------------------------------------------------------
# Administrative divisions (GB/T 2260) of Qingdao
# --------------------------------------------------------------------------------------------

QINGDAO_CITY_CODE = "370200"

DISTRICTS: dict[str, tuple[str, str]] = {
    "370200": ("青岛市", "Qingdao"),
    "370202": ("市南区", "Shinan"),
    "370203": ("市北区", "Shibei"),
    "370211": ("黄岛区", "Huangdao (West Coast New Area)"),
    "370212": ("崂山区", "Laoshan"),
    "370213": ("李沧区", "Licang"),
    "370214": ("城阳区", "Chengyang"),
    "370215": ("即墨区", "Jimo"),
    "370281": ("胶州市", "Jiaozhou"),
    "370283": ("平度市", "Pingdu"),
    "370285": ("莱西市", "Laixi"),
}
"""Division code → (name_zh, name_en); the city itself plus its 7 districts and 3 cities."""

# --------------------------------------------------------------------------------------------
# Industries: GB/T 4754-2017 (国民经济行业分类), sections and two-digit divisions
# --------------------------------------------------------------------------------------------

INDUSTRY_SECTIONS: dict[str, tuple[str, str]] = {
    "A": ("农、林、牧、渔业", "Agriculture, forestry, animal husbandry and fishery"),
    "B": ("采矿业", "Mining"),
    "C": ("制造业", "Manufacturing"),
    "D": (
        "电力、热力、燃气及水生产和供应业",
        "Production and supply of electricity, heat, gas and water",
    ),
    "E": ("建筑业", "Construction"),
    "F": ("批发和零售业", "Wholesale and retail trade"),
    "G": ("交通运输、仓储和邮政业", "Transport, storage and postal services"),
    "H": ("住宿和餐饮业", "Accommodation and catering"),
    "I": (
        "信息传输、软件和信息技术服务业",
        "Information transmission, software and information technology services",
    ),
    "J": ("金融业", "Finance"),
    "K": ("房地产业", "Real estate"),
    "L": ("租赁和商务服务业", "Leasing and business services"),
    "M": ("科学研究和技术服务业", "Scientific research and technical services"),
    "N": (
        "水利、环境和公共设施管理业",
        "Water conservancy, environment and public facilities management",
    ),
    "O": ("居民服务、修理和其他服务业", "Resident services, repair and other services"),
    "P": ("教育", "Education"),
    "Q": ("卫生和社会工作", "Health and social work"),
    "R": ("文化、体育和娱乐业", "Culture, sports and entertainment"),
    "S": (
        "公共管理、社会保障和社会组织",
        "Public administration, social security and social organisations",
    ),
    "T": ("国际组织", "International organisations"),
}
"""Section letter → (name_zh, name_en)."""

INDUSTRY_DIVISIONS: dict[str, tuple[str, str]] = {
    # A 农、林、牧、渔业
    "01": ("农业", "A"),
    "02": ("林业", "A"),
    "03": ("畜牧业", "A"),
    "04": ("渔业", "A"),
    "05": ("农、林、牧、渔专业及辅助性活动", "A"),
    # B 采矿业
    "06": ("煤炭开采和洗选业", "B"),
    "07": ("石油和天然气开采业", "B"),
    "08": ("黑色金属矿采选业", "B"),
    "09": ("有色金属矿采选业", "B"),
    "10": ("非金属矿采选业", "B"),
    "11": ("开采专业及辅助性活动", "B"),
    "12": ("其他采矿业", "B"),
    # C 制造业
    "13": ("农副食品加工业", "C"),
    "14": ("食品制造业", "C"),
    "15": ("酒、饮料和精制茶制造业", "C"),
    "16": ("烟草制品业", "C"),
    "17": ("纺织业", "C"),
    "18": ("纺织服装、服饰业", "C"),
    "19": ("皮革、毛皮、羽毛及其制品和制鞋业", "C"),
    "20": ("木材加工和木、竹、藤、棕、草制品业", "C"),
    "21": ("家具制造业", "C"),
    "22": ("造纸和纸制品业", "C"),
    "23": ("印刷和记录媒介复制业", "C"),
    "24": ("文教、工美、体育和娱乐用品制造业", "C"),
    "25": ("石油、煤炭及其他燃料加工业", "C"),
    "26": ("化学原料和化学制品制造业", "C"),
    "27": ("医药制造业", "C"),
    "28": ("化学纤维制造业", "C"),
    "29": ("橡胶和塑料制品业", "C"),
    "30": ("非金属矿物制品业", "C"),
    "31": ("黑色金属冶炼和压延加工业", "C"),
    "32": ("有色金属冶炼和压延加工业", "C"),
    "33": ("金属制品业", "C"),
    "34": ("通用设备制造业", "C"),
    "35": ("专用设备制造业", "C"),
    "36": ("汽车制造业", "C"),
    "37": ("铁路、船舶、航空航天和其他运输设备制造业", "C"),
    "38": ("电气机械和器材制造业", "C"),
    "39": ("计算机、通信和其他电子设备制造业", "C"),
    "40": ("仪器仪表制造业", "C"),
    "41": ("其他制造业", "C"),
    "42": ("废弃资源综合利用业", "C"),
    "43": ("金属制品、机械和设备修理业", "C"),
    # D 电力、热力、燃气及水生产和供应业
    "44": ("电力、热力生产和供应业", "D"),
    "45": ("燃气生产和供应业", "D"),
    "46": ("水的生产和供应业", "D"),
    # E 建筑业
    "47": ("房屋建筑业", "E"),
    "48": ("土木工程建筑业", "E"),
    "49": ("建筑安装业", "E"),
    "50": ("建筑装饰、装修和其他建筑业", "E"),
    # F 批发和零售业
    "51": ("批发业", "F"),
    "52": ("零售业", "F"),
    # G 交通运输、仓储和邮政业
    "53": ("铁路运输业", "G"),
    "54": ("道路运输业", "G"),
    "55": ("水上运输业", "G"),
    "56": ("航空运输业", "G"),
    "57": ("管道运输业", "G"),
    "58": ("多式联运和运输代理业", "G"),
    "59": ("装卸搬运和仓储业", "G"),
    "60": ("邮政业", "G"),
    # H 住宿和餐饮业
    "61": ("住宿业", "H"),
    "62": ("餐饮业", "H"),
    # I 信息传输、软件和信息技术服务业
    "63": ("电信、广播电视和卫星传输服务", "I"),
    "64": ("互联网和相关服务", "I"),
    "65": ("软件和信息技术服务业", "I"),
    # J 金融业
    "66": ("货币金融服务", "J"),
    "67": ("资本市场服务", "J"),
    "68": ("保险业", "J"),
    "69": ("其他金融业", "J"),
    # K 房地产业
    "70": ("房地产业", "K"),
    # L 租赁和商务服务业
    "71": ("租赁业", "L"),
    "72": ("商务服务业", "L"),
    # M 科学研究和技术服务业
    "73": ("研究和试验发展", "M"),
    "74": ("专业技术服务业", "M"),
    "75": ("科技推广和应用服务业", "M"),
    # N 水利、环境和公共设施管理业
    "76": ("水利管理业", "N"),
    "77": ("生态保护和环境治理业", "N"),
    "78": ("公共设施管理业", "N"),
    "79": ("土地管理业", "N"),
    # O 居民服务、修理和其他服务业
    "80": ("居民服务业", "O"),
    "81": ("机动车、电子产品和日用产品修理业", "O"),
    "82": ("其他服务业", "O"),
    # P 教育
    "83": ("教育", "P"),
    # Q 卫生和社会工作
    "84": ("卫生", "Q"),
    "85": ("社会工作", "Q"),
    # R 文化、体育和娱乐业
    "86": ("新闻和出版业", "R"),
    "87": ("广播、电视、电影和录音制作业", "R"),
    "88": ("文化艺术业", "R"),
    "89": ("体育", "R"),
    "90": ("娱乐业", "R"),
    # S 公共管理、社会保障和社会组织
    "91": ("中国共产党机关", "S"),
    "92": ("国家机构", "S"),
    "93": ("人民政协、民主党派", "S"),
    "94": ("社会保障", "S"),
    "95": ("群众团体、社会团体和其他成员组织", "S"),
    "96": ("基层群众自治组织及其他组织", "S"),
    # T 国际组织
    "97": ("国际组织", "T"),
}
"""Two-digit division code → (name_zh, section letter); all 97 divisions of GB/T 4754-2017."""


def section_for_division(code: object) -> str | None:
    """The section letter for an industry code, or None if it is not a GB/T 4754-2017 code.

    Accepts a division ("36", 36, "6"), a group or class ("365", "3670") or a code with its
    section prefix ("C36", "C3670"); a prefix that contradicts the division gives None.
    """
    if code is None or isinstance(code, bool):
        return None
    if isinstance(code, int):
        text = f"{code:02d}" if 0 < code < 100 else ""
    else:
        text = str(code).strip().upper()
    prefix = ""
    if text[:1].isalpha():
        prefix, text = text[0], text[1:]
    if not (text.isascii() and text.isdigit() and 1 <= len(text) <= 4):
        return None
    if len(text) == 1:
        text = "0" + text
    entry = INDUSTRY_DIVISIONS.get(text[:2])
    if entry is None or (prefix and prefix != entry[1]):
        return None
    return entry[1]


# --------------------------------------------------------------------------------------------
# Subject types and statuses
# --------------------------------------------------------------------------------------------

SUBJECT_TYPES: dict[str, tuple[str, str]] = {
    "enterprise": ("企业", "Enterprise"),
    "individual_business": ("个体工商户", "Individual business"),
    "farmers_coop": ("农民专业合作社", "Farmers' specialised cooperative"),
    "social_organisation": ("社会组织", "Social organisation"),
    "public_institution": ("事业单位", "Public institution"),
    "government_agency": ("机关", "Government agency"),
    "other_organisation": ("其他组织", "Other organisation"),
    "natural_person": ("自然人", "Natural person"),
}
"""Subject type code → (name_zh, name_en)."""

SUBJECT_STATUSES: dict[str, tuple[str, str]] = {
    "active": ("存续", "Active"),
    "revoked": ("吊销", "Licence revoked"),
    "cancelled": ("注销", "Deregistered"),
}
"""Registration status code → (name_zh, name_en)."""

# --------------------------------------------------------------------------------------------
# GB 32100-2015 positions 1-2: registration authority and organisation type
# --------------------------------------------------------------------------------------------

USCC_AUTHORITIES: dict[str, tuple[str, str]] = {
    "1": ("机构编制", "Institutional staffing"),
    "2": ("外交", "Foreign affairs"),
    "3": ("司法行政", "Judicial administration"),
    "4": ("文化", "Culture"),
    "5": ("民政", "Civil affairs"),
    "6": ("旅游", "Tourism"),
    "7": ("宗教", "Religious affairs"),
    "8": ("工会", "Trade unions"),
    "9": ("工商", "Market regulation (industry and commerce)"),
    "A": ("中央军委改革和编制办公室", "CMC Reform and Staffing Office"),
    "N": ("农业", "Agriculture"),
    "Y": ("其他", "Other"),
}
"""Position 1 → registering authority (name_zh, name_en)."""

# Positions 1-2 → (name_zh, name_en, subject type). Pairs not listed are undefined.
USCC_ORGANISATION_TYPES: dict[str, tuple[str, str, str]] = {
    "11": ("机关", "Government agency", "government_agency"),
    "12": ("事业单位", "Public institution", "public_institution"),
    "13": (
        "中央编办直接管理机构编制的群众团体",
        "Mass organisation staffed by the central staffing office",
        "other_organisation",
    ),
    "19": ("其他", "Other", "other_organisation"),
    "21": ("外国常驻新闻机构", "Resident foreign news agency", "other_organisation"),
    "29": ("其他", "Other", "other_organisation"),
    "31": ("律师执业机构", "Law firm", "other_organisation"),
    "32": ("公证处", "Notary office", "other_organisation"),
    "33": ("基层法律服务所", "Grassroots legal service office", "other_organisation"),
    "34": ("司法鉴定机构", "Forensic appraisal institution", "other_organisation"),
    "35": ("仲裁委员会", "Arbitration commission", "other_organisation"),
    "39": ("其他", "Other", "other_organisation"),
    "41": ("外国在华文化中心", "Foreign cultural centre in China", "other_organisation"),
    "49": ("其他", "Other", "other_organisation"),
    "51": ("社会团体", "Social association", "social_organisation"),
    "52": ("民办非企业单位", "Private non-enterprise unit", "social_organisation"),
    "53": ("基金会", "Foundation", "social_organisation"),
    "59": ("其他", "Other", "social_organisation"),
    "61": (
        "外国旅游部门常驻代表机构",
        "Representative office of a foreign tourism authority",
        "other_organisation",
    ),
    "62": (
        "港澳台地区旅游部门常驻内地（大陆）代表机构",
        "Mainland representative office of a Hong Kong, Macao or Taiwan tourism authority",
        "other_organisation",
    ),
    "69": ("其他", "Other", "other_organisation"),
    "71": ("宗教活动场所", "Place of religious activity", "other_organisation"),
    "72": ("宗教院校", "Religious school", "other_organisation"),
    "79": ("其他", "Other", "other_organisation"),
    "81": ("基层工会", "Grassroots trade union", "other_organisation"),
    "89": ("其他", "Other", "other_organisation"),
    "91": ("企业", "Enterprise", "enterprise"),
    "92": ("个体工商户", "Individual business", "individual_business"),
    "93": ("农民专业合作社", "Farmers' specialised cooperative", "farmers_coop"),
    "A1": ("军队事业单位", "Military public institution", "public_institution"),
    "A9": ("其他", "Other", "other_organisation"),
    "N1": (
        "组级集体经济组织",
        "Group-level collective economic organisation",
        "other_organisation",
    ),
    "N2": (
        "村级集体经济组织",
        "Village-level collective economic organisation",
        "other_organisation",
    ),
    "N3": (
        "乡镇级集体经济组织",
        "Township-level collective economic organisation",
        "other_organisation",
    ),
    "N9": ("其他", "Other", "other_organisation"),
    "Y1": ("其他", "Other", "other_organisation"),
}


def expected_subject_type(uscc: object) -> str | None:
    """The subject type that USCC positions 1-2 imply, or None when GB 32100 defines none.

    91 → enterprise, 92 → individual_business, 93 → farmers_coop, 5x → social_organisation,
    11 → government_agency, 12 → public_institution (as is A1, military public institutions),
    other defined pairs (law firms, religious venues, trade unions, rural collectives, Y1...)
    → other_organisation. Only the first two characters are read; the rest is not validated.
    """
    entry = USCC_ORGANISATION_TYPES.get(normalize_code(uscc)[:2])
    return entry[2] if entry else None
