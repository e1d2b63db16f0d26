"""Province, city and district from a Chinese address, as Polars expressions.

A small rule set, not a gazetteer: municipalities (北京/上海/天津/重庆) are their own
province and city; otherwise a leading ``…省`` or autonomous region, then ``…市``,
``…自治州``, ``…地区`` or ``…盟``, then ``…区``, ``…县``, ``…市`` or ``…旗``. Parts that
are not found stay empty.

    上海市浦东新区张杨路100号  → 上海市 / 上海市 / 浦东新区
    广东省广州市天河区体育西路1号 → 广东省 / 广州市 / 天河区
"""

from __future__ import annotations

import polars as pl

_REGIONS = (
    "内蒙古自治区|广西壮族自治区|西藏自治区|宁夏回族自治区|新疆维吾尔自治区|"
    "香港特别行政区|澳门特别行政区"
)
_PROVINCE = rf"(?:\p{{Han}}{{2,3}}省|{_REGIONS})"
_CITY = r"(?:[^\s区县路街道号省]{1,12}?(?:自治州|地区|盟|市))"
_DISTRICT = r"(?:[^\s路街道号省市]{1,8}?(?:新区|区|县|市|旗))"
_MUNICIPALITY = r"^(北京|上海|天津|重庆)市?"


def region_columns(text: pl.Expr) -> list[pl.Expr]:
    """Three expressions named province, city and district (empty string when unknown)."""
    municipality = text.str.extract(_MUNICIPALITY, 1)
    muni_district = text.str.extract(rf"{_MUNICIPALITY}({_DISTRICT})", 2)
    province = text.str.extract(rf"^({_PROVINCE})", 1)
    city = text.str.extract(rf"^{_PROVINCE}?({_CITY})", 1)
    district = text.str.extract(rf"^{_PROVINCE}?{_CITY}?({_DISTRICT})", 1)
    is_muni = municipality.is_not_null()
    muni_name = pl.concat_str([municipality, pl.lit("市")])
    return [
        pl.when(is_muni).then(muni_name).otherwise(province).fill_null("").alias("province"),
        pl.when(is_muni).then(muni_name).otherwise(city).fill_null("").alias("city"),
        pl.when(is_muni).then(muni_district).otherwise(district).fill_null("").alias("district"),
    ]
