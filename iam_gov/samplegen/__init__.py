"""samplegen"""
