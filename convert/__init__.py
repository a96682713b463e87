"""edgelite.convert"""
