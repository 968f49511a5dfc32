"""timetables"""
