"""edgelite.train"""
