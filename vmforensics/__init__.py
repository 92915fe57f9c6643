"""vmforensics"""
